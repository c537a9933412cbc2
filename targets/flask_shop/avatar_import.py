"""Profile pictures imported from a URL: the shop downloads the image the customer points at."""

import urllib.parse

from flask import Blueprint, jsonify

from common import outbound
from common.variant import planted
from flask_shop.auth import login_required
from flask_shop.errors import ApiError
from flask_shop.validation import json_object, string_field

bp = Blueprint("avatar_import", __name__, url_prefix="/api/profile/avatar")

# The image hosts the secure build accepts.
IMAGE_HOSTS = frozenset({"images.example-cdn.test"})


@bp.post("/import")
@login_required
def import_avatar():
    body = json_object()
    url = string_field(body, "image_url", 2048)
    if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        raise ApiError(400, "invalid_parameter", "image_url must be an http or https URL")
    if planted("injection.ssrf"):
        # FLAW injection.ssrf: the URL is fetched as given, any host and port (loopback, the
        # private network, the cloud metadata address), redirects followed, and whether the host
        # answered is told back to the caller.
        fetch = outbound.fetch
    else:
        if not outbound.allowed(url, IMAGE_HOSTS):
            raise ApiError(422, "host_not_allowed", "Images are imported from the shop's image hosts only.")
        fetch = lambda u: outbound.fetch_allowed(u, IMAGE_HOSTS)  # noqa: E731
    try:
        status, content_type, size = fetch(url)
    except outbound.FetchFailed:
        raise ApiError(502, "fetch_failed", "Could not reach the image host.")
    if status >= 400:
        raise ApiError(502, "upstream_error", f"The image host answered {status}.")
    return jsonify(imported=True, bytes=size, content_type=content_type)
