#!/usr/bin/env bash
# A git smart-HTTP server over HTTPS with basic auth for the git tests: lighttpd running
# `git http-backend` as CGI, with a CA and a localhost certificate made for the test.
#
#   githttp.sh start   DIR PORT USER PASS [OWNER_PID]
#                      generate TLS material, write lighttpd.conf, start; with OWNER_PID, a
#                      watcher stops lighttpd when that process dies (a crashed test run)
#   githttp.sh new-repo DIR NAME            empty bare repo DIR/repos/NAME.git (branch main)
#   githttp.sh stop    DIR                  stop lighttpd (DIR is left for the caller to remove)
#
# URLs: https://localhost:PORT/git/NAME.git (auth for everything), /anon/NAME.git (auth for
# push only). USER and x-access-token (what a bare token is sent as) both take PASS.
# Use `localhost`: libgit2 1.5 + mbedTLS ignores IP SANs. The git CLI needs
# GIT_SSL_CAINFO=DIR/tls/ca.pem (the environment may set it globally and it beats -c options).
set -u

start() {
  local d=$1 port=$2 user=$3 pass=$4 owner=${5:-} i
  mkdir -p "$d"/{repos,www,log,tmp,tls} || return 1
  if [ ! -s "$d/tls/server.pem" ]; then
    openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=wfrun git test CA" \
      -keyout "$d/tls/ca.key" -out "$d/tls/ca.pem" \
      -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
      2>/dev/null || return 1
    openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" \
      -keyout "$d/tls/server.key" -out "$d/tls/server.csr" 2>/dev/null || return 1
    printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n' > "$d/tls/ext.cnf"
    openssl x509 -req -in "$d/tls/server.csr" -CA "$d/tls/ca.pem" -CAkey "$d/tls/ca.key" \
      -CAcreateserial -days 30 -extfile "$d/tls/ext.cnf" -out "$d/tls/server.crt" 2>/dev/null || return 1
    cat "$d/tls/server.crt" "$d/tls/server.key" > "$d/tls/server.pem"; chmod 600 "$d/tls/server.pem"
  fi
  # x-access-token with the same password too: GitHub's user name for a bare token.
  printf '%s:%s\nx-access-token:%s\n' "$user" "$pass" "$pass" > "$d/users.plain"; chmod 600 "$d/users.plain"
  cat > "$d/lighttpd.conf" <<CONF
server.modules = ( "mod_access", "mod_alias", "mod_setenv", "mod_auth", "mod_authn_file", "mod_cgi", "mod_openssl", "mod_accesslog" )
server.bind          = "127.0.0.1"
server.port          = $port
server.document-root = "$d/www"
server.pid-file      = "$d/lighttpd.pid"
server.errorlog      = "$d/log/error.log"
accesslog.filename   = "$d/log/access.log"
server.upload-dirs   = ( "$d/tmp" )
# h2 off: git CLI (libcurl 7.88) pushes >1 MiB over h2 fail ("curl 92 Stream error")
# delay off: lighttpd otherwise waits ~1 s before each 401 for bad credentials
server.feature-flags = ( "server.h2proto" => "disable", "auth.delay-invalid-creds" => "disable" )
ssl.engine  = "enable"
ssl.pemfile = "$d/tls/server.pem"
auth.backend = "plain"
auth.backend.plain.userfile = "$d/users.plain"
setenv.set-environment = ( "GIT_PROJECT_ROOT" => "$d/repos", "GIT_HTTP_EXPORT_ALL" => "1" )
alias.url = ( "/git/"  => "/usr/lib/git-core/git-http-backend/",
              "/anon/" => "/usr/lib/git-core/git-http-backend/" )
# after the alias, lighttpd splits PATH_INFO and the url becomes "/git": match without the slash
\$HTTP["url"] =~ "^/(git|anon)(/|\$)" { cgi.assign = ( "" => "" ) }
\$HTTP["url"] =~ "^/git/" {
  auth.require = ( "" => ( "method" => "basic", "realm" => "git", "require" => "valid-user" ) )
}
\$HTTP["url"] =~ "^/anon/.*/git-receive-pack\$" {
  auth.require = ( "" => ( "method" => "basic", "realm" => "git", "require" => "valid-user" ) )
}
\$HTTP["querystring"] =~ "service=git-receive-pack" {
  auth.require = ( "" => ( "method" => "basic", "realm" => "git", "require" => "valid-user" ) )
}
CONF
  lighttpd -tt -f "$d/lighttpd.conf" || return 1
  lighttpd -f "$d/lighttpd.conf" || { cat "$d/log/error.log" >&2; return 1; }
  if [ -n "$owner" ]; then
    ( while _pid_alive "$owner" && [ -s "$d/lighttpd.pid" ]; do sleep 1; done; stop "$d" ) \
      </dev/null >/dev/null 2>&1 &
  fi
  for i in $(seq 1 100); do
    curl -s -o /dev/null --cacert "$d/tls/ca.pem" "https://localhost:$port/" && return 0
    sleep 0.05
  done
  echo "lighttpd did not come up" >&2; cat "$d/log/error.log" >&2; return 1
}

new_repo() { git init -q --bare -b main "$1/repos/$2.git"; }

_pid_alive() { local s; s=$(ps -o stat= -p "$1" 2>/dev/null) && [ "${s#Z}" = "$s" ]; }  # zombie = dead

stop() {
  local d=$1 pid i
  [ -s "$d/lighttpd.pid" ] || return 0
  pid=$(cat "$d/lighttpd.pid"); kill "$pid" 2>/dev/null
  for i in $(seq 1 50); do _pid_alive "$pid" || break; sleep 0.1; done
  _pid_alive "$pid" && kill -9 "$pid"
  rm -f "$d/lighttpd.pid"
}

cmd=${1:-}; shift || true
case $cmd in
  start) start "$@" ;;
  new-repo) new_repo "$@" ;;
  stop) stop "$@" ;;
  *) echo "usage: $0 start DIR PORT USER PASS | new-repo DIR NAME | stop DIR" >&2; exit 2 ;;
esac
