"""/api/docs: Swagger UI served from the `swagger-ui-bundle` package (works offline, no CDN)."""

from __future__ import annotations

from flask import Blueprint, Response, render_template_string, send_from_directory, url_for
from swagger_ui_bundle import swagger_ui_path

bp = Blueprint("api_docs_ui", __name__, url_prefix="/api/docs")

_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>tthc API</title>
  <link rel="stylesheet" href="{{ asset('swagger-ui.css') }}">
  <link rel="icon" type="image/png" href="{{ asset('favicon-32x32.png') }}">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="{{ asset('swagger-ui-bundle.js') }}"></script>
  <script src="{{ asset('swagger-ui-standalone-preset.js') }}"></script>
  <script>
    window.ui = SwaggerUIBundle({
      url: {{ spec_url | tojson }},
      dom_id: "#swagger-ui",
      deepLinking: true,
      persistAuthorization: true,
      presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
      layout: "StandaloneLayout"
    });
  </script>
</body>
</html>
"""


@bp.route("", strict_slashes=False)
def index() -> Response:
    """The browsable API documentation."""
    html = render_template_string(
        _PAGE,
        spec_url=url_for("api-docs.openapi_json"),
        asset=lambda name: url_for("api_docs_ui.asset", filename=name),
    )
    return Response(html, mimetype="text/html")


@bp.route("/assets/<path:filename>")
def asset(filename: str) -> Response:
    """Swagger UI's own files, from the installed package."""
    return send_from_directory(str(swagger_ui_path), filename, max_age=86400)
