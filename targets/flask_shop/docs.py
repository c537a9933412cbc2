"""Health check and API documentation, served where Flasgger would serve them."""

import secrets
from pathlib import Path

from flask import Blueprint, Response, jsonify

bp = Blueprint("docs", __name__)

SPEC = Path(__file__).with_name("apispec_1.json").read_bytes()

# A self-contained stand-in for the Swagger UI page (no CDN assets): same config shape, and a small
# script that lists the operations of the spec it points at.
DOCS_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Shop API - Swagger UI</title>
<style nonce="{nonce}">
body {{ font-family: sans-serif; margin: 2rem; }}
.op {{ margin: .3rem 0; }} .method {{ display: inline-block; width: 5rem; font-weight: bold; }}
</style>
</head>
<body>
<div id="swagger-ui"><h1>Shop API</h1><p>Loading the specification&hellip;</p></div>
<script nonce="{nonce}">
window.onload = function () {{
  const config = {{
    url: "/apispec_1.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
  }};
  fetch(config.url).then(function (r) {{ return r.json(); }}).then(function (spec) {{
    const root = document.querySelector(config.dom_id);
    root.innerHTML = "";
    const title = document.createElement("h1");
    title.textContent = spec.info.title + " " + spec.info.version;
    root.appendChild(title);
    Object.keys(spec.paths).forEach(function (path) {{
      Object.keys(spec.paths[path]).forEach(function (method) {{
        const op = spec.paths[path][method];
        const row = document.createElement("div");
        row.className = "op";
        const m = document.createElement("span");
        m.className = "method";
        m.textContent = method.toUpperCase();
        row.appendChild(m);
        row.appendChild(document.createTextNode(path + " \u2014 " + (op.summary || "")));
        root.appendChild(row);
      }});
    }});
  }});
}};
</script>
</body>
</html>
"""


@bp.get("/health")
def health():
    return jsonify(status="ok")


@bp.get("/apispec_1.json")
def apispec():
    return Response(SPEC, mimetype="application/json")


@bp.get("/apidocs/")
def apidocs():
    nonce = secrets.token_urlsafe(16)
    response = Response(DOCS_PAGE.format(nonce=nonce), mimetype="text/html")
    response.headers["Content-Security-Policy"] = (
        f"default-src 'none'; script-src 'nonce-{nonce}'; style-src 'nonce-{nonce}';"
        " connect-src 'self'; frame-ancestors 'none'"
    )
    return response
