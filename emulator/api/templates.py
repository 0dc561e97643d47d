"""HTTP handlers for function templates."""
from __future__ import annotations

from aiohttp import web

from ..errors import invalid_param
from ..serializers import list_model
from ..services import templates as svc
from .common import json_response, params

MAX_TEMPLATE_ID = 128  # Appwrite's Text(128) validator on `templateId`


async def list_templates(request: web.Request) -> web.Response:
    p = await params(request, "listTemplates")
    total, templates = svc.list_templates(p)
    return json_response(list_model("templates", total, templates))


async def get_template(request: web.Request) -> web.Response:
    template_id = request.match_info["templateId"]
    if len(template_id) > MAX_TEMPLATE_ID:
        raise invalid_param("templateId", f"Value must be a valid string and at least 1 chars and no longer than "
                                          f"{MAX_TEMPLATE_ID} chars")
    return json_response(svc.get_template(template_id))
