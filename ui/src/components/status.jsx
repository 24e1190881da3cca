import { tone, ICONS } from '../util.js';

/** A status as an icon and a word: the colour is never the only sign. */
export function Status({ status, small }) {
  const t = tone(status);
  return (
    <span class={`status ${t}${small ? ' small' : ''}`}>
      <span class="icon" aria-hidden="true">{ICONS[t]}</span>
      <span class="word">{status}</span>
    </span>
  );
}
