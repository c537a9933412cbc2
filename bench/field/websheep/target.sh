# websheep: Express 4 in TypeScript, seven workshop levels under one origin
# (/authz1 /authz2 /csrf1 /csrf2 /csrf3 /jwt1 /jwt2), data in a lowdb JSON file.
# shellcheck shell=bash
UPSTREAM=marmicode/websheep
COMMIT=96f5eceb6d641e2da341416b0be52e7030a8a27a
PORT=3333 # the served spec's servers say http://localhost:3333/<level>
READY_PATH=/authz1/docs/specification.json
# Each level is its own API with the same paths (/tokens, /farmers/{farmerId}/sheep, /sheep …),
# so run.sh scans one level at a time: base path /<level>, and the spec that level serves. Every
# level serves the same document, whose `servers` list all seven levels, /authz1 first.
BASE_PATH=/authz1
SPEC_PATH=/authz1/docs/specification.json
SCOPES=()
for level in authz1 authz2 csrf1 csrf2 csrf3 jwt1 jwt2; do
    SCOPES+=("/$level|/$level/docs/specification.json")
done
unset level

# Upstream builds with Nx + yarn 3 on Node 16; that toolchain is heavy and yarn 3 wants a
# registry mirror we cannot reach. The API needs only these packages (versions from yarn.lock)
# and ts-node to run main.ts as it is.
prepare() {
    (cd "$dir" && npm install --no-save --no-package-lock --no-audit --no-fund --loglevel=error \
        express@4.17.1 express-openapi-validator@4.10.11 body-parser@1.19.0 cookie-parser@1.4.4 \
        cors@2.8.5 jsonwebtoken@8.5.1 lowdb@1.0.0 passport@0.4.0 passport-cookie@1.0.6 \
        passport-http-bearer@1.0.1 shortid@2.2.15 swagger-ui-express@4.1.2 yamljs@0.3.0 \
        ts-node@10.9.2 typescript@4.9.5)
    # Our launcher. The Nx webpack build loaded websheep.yaml with a raw loader, hence the
    # require hook. app.listen(port) has no host, so listen() gets 127.0.0.1 put in.
    # skipProject: upstream's tsconfig says module esnext, which plain require() cannot load;
    # esModuleInterop off as upstream has it (ts-node's default turns it on, which breaks
    # `import * as FileSync` of a CommonJS class).
    cat >"$dir/launch.js" <<'JS'
const fs = require('fs'), net = require('net'), path = require('path');
require.extensions['.yaml'] = (m, file) => { m.exports = { default: fs.readFileSync(file, 'utf8') }; };
const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function (...args) {
  if (['number', 'string'].includes(typeof args[0]) && typeof args[1] !== 'string') args.splice(1, 0, '127.0.0.1');
  return listen.apply(this, args);
};
require('ts-node').register({ transpileOnly: true, skipProject: true,
  compilerOptions: { module: 'commonjs', target: 'es2019', esModuleInterop: false } });
require(path.join(__dirname, 'src/apps/websheep-api/src/main.ts'));
JS
}

# main.ts rewrites /tmp/websheep-db.json (a fixed path) from the fixtures at every start; delete
# it so a file left by another user cannot block the write.
reset() {
    rm -f /tmp/websheep-db.json
}

# POST /<level>/tokens without a string userName or password makes pbkdf2Sync throw inside an
# async handler; on Node >= 15 that unhandled rejection kills the process, so the first malformed
# sign-in of a scan would stop the app. With `warn` (Node 14's default) that one request hangs
# and the app lives on. env -i: jwt2's error handler answers with the whole process.env, so the
# app gets only what it needs, never the caller's environment.
serve() {
    cd "$dir" && exec env -i PATH="$PATH" HOME="$HOME" PORT="$PORT" \
        node --unhandled-rejections=warn launch.js
}
