// Signed out: how to get in. `wfrun ui` prints a link whose token works once; `wfrun serve`
// takes one of its API tokens.
import { useState } from 'preact/hooks';
import { post } from '../api.js';

export function LoginPage({ onSignedIn, keyed, kind }) {
  const [token, setToken] = useState('');
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  const submit = async (e) => {
    e.preventDefault();
    setBusy(true);
    setError('');
    try {
      await post('/api/login', { token: token.trim() });
      setToken('');
      onSignedIn();
    } catch (err) {
      setError(err.message);
    } finally {
      setBusy(false);
    }
  };
  document.title = 'Sign in · wfrun';
  return (
    <section class="login card" aria-labelledby="login-title">
      <h1 id="login-title">Sign in to wfrun</h1>
      {keyed && <p>This run link is not valid (any more). Ask for a new one, or sign in.</p>}
      {!keyed && kind === 'serve' && <p>Paste one of this server's API tokens (<code>api:</code> in its <code>server.yaml</code>). This browser then stays signed in.</p>}
      {!keyed && kind !== 'serve' && <p>Open the link that <code>wfrun ui</code> printed in its terminal (it signs this browser in once; then it prints a new one), or paste that link's token below.</p>}
      <form onSubmit={submit}>
        <label for="token">Token</label>
        <input id="token" type="password" autocomplete="off" spellcheck={false} value={token}
          onInput={(e) => setToken(e.currentTarget.value)} required />
        <button type="submit" disabled={busy || !token.trim()}>Sign in</button>
      </form>
      {error && <p class="notice bad" role="alert">{error}</p>}
    </section>
  );
}
