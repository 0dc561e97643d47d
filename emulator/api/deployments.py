"""HTTP handlers for deployments and builds."""
from __future__ import annotations

from aiohttp import web

from ..queries import selection
from ..serializers import deployment_model, list_model
from ..services import deployments as svc
from .common import files, json_response, no_content, params, path_id, project, state


def _ids(request):
    return state(request), project(request), path_id(request, "functionId")


async def list_deployments(request: web.Request) -> web.Response:
    p = await params(request, "listDeployments")
    total, docs = svc.list_deployments(*_ids(request), p)
    return json_response(list_model("deployments", total, [deployment_model(d) for d in docs],
                                    selection=selection("deployments", p.get("queries"))))


async def create_deployment(request: web.Request) -> web.Response:
    p = await params(request, "createDeployment")
    doc = await svc.upload_deployment(
        *_ids(request), p, files(request).get("code"), request.headers.get("content-range"),
        request.headers.get("x-appwrite-id"), request.headers.get("x-sdk-language", ""))
    return json_response(deployment_model(doc), 202)


async def get_deployment(request: web.Request) -> web.Response:
    doc = svc.get_deployment(*_ids(request), path_id(request, "deploymentId"))
    return json_response(deployment_model(doc))


async def delete_deployment(request: web.Request) -> web.Response:
    await svc.delete_deployment(*_ids(request), path_id(request, "deploymentId"))
    return no_content()


async def duplicate_deployment(request: web.Request) -> web.Response:
    p = await params(request, "createDuplicateDeployment")
    doc = svc.duplicate_deployment(*_ids(request), p["deploymentId"])
    return json_response(deployment_model(doc), 202)


async def retry_build_legacy(request: web.Request) -> web.Response:
    """Appwrite <= 1.6 `POST .../deployments/{id}/builds/{buildId}` and `.../build`: rebuild, 204.
    The rebuild goes live when ready, whatever the original's `activate`."""
    svc.duplicate_deployment(*_ids(request), path_id(request, "deploymentId"), activate=True)
    return no_content()


async def cancel_deployment(request: web.Request) -> web.Response:
    doc = await svc.cancel_deployment(*_ids(request), path_id(request, "deploymentId"))
    return json_response(deployment_model(doc))


async def download_deployment(request: web.Request) -> web.StreamResponse:
    p = await params(request, "getDeploymentDownload")
    kind = p.get("type", "source")
    if request.path.endswith("/build/download"):
        kind = "output"
    deployment_id = path_id(request, "deploymentId")
    path = await svc.download_path(*_ids(request), deployment_id, kind)
    return web.FileResponse(path, headers={
        "Content-Type": "application/gzip", "Cache-Control": "private, max-age=3888000",
        "Content-Disposition": f'attachment; filename="{deployment_id}-{kind}.tar.gz"'})
