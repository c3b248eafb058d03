"""Jobs: POST/GET /api/v1/jobs, GET/DELETE /api/v1/jobs/{id}, GET /api/v1/jobs/{id}/files/{name}."""
# No `from __future__ import annotations`: FastAPI must resolve the routes' local aliases at definition time.

import asyncio
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.responses import FileResponse

from bridge3d.api import services
from bridge3d.api.deps import OwnerDep
from bridge3d.api.errors import NotFoundError
from bridge3d.api.jobs import requests
from bridge3d.api.jobs.manager import Job, JobManager
from bridge3d.api.jobs.requests import JobRequest
from bridge3d.api.models.responses import APIResponse, JobInfo, JobList
from bridge3d.rpc.workspace import FILE_NAME_PATTERN

router = APIRouter(prefix="/api/v1/jobs", tags=["jobs"])
CANCEL_WAIT = 5.0  # seconds DELETE waits for a running job's worker to be ended, so the answer says "cancelled"
JobId = Annotated[str, Path(pattern=r"^job_[0-9a-f]{16}$", description="a job id")]


async def jobs_dependency(request: Request) -> JobManager:
    jobs: JobManager = request.app.state.jobs
    return jobs


JobsDep = Annotated[JobManager, Depends(jobs_dependency)]


def info(job: Job) -> JobInfo:
    return JobInfo.model_validate(job.describe())


@router.post(
    "", name="submit_job", status_code=202, response_model=APIResponse[JobInfo], openapi_extra=requests.openapi()
)
async def submit_job(
    jobs: JobsDep, owner: OwnerDep, job: Annotated[JobRequest, Depends(requests.parse_job)], response: Response
) -> APIResponse[JobInfo]:
    """Queue a render, a conversion or a batch; answered at once (202) with the job's id.

    A job runs on a job worker of its own, so it never makes a session wait. `render` renders a snapshot of a
    session's scene with the params of `/render`; `convert` turns a file of a session's workspace into another
    format (CAD formats through FreeCAD, mesh and scene formats through Blender, STEP to GLB through both);
    `batch` runs the steps of `/batch` on an empty scene or on a snapshot of a session.

    Also: a conversion no application can make (a mesh or scene format into STEP, IGES or BREP) and a batch step
    its command's rules refuse are 422, as `/batch` refuses them.
    """
    created = jobs.submit(job, owner)
    response.headers["Location"] = f"/api/v1/jobs/{created.id}"
    return APIResponse(result=info(created))


@router.get("", name="list_jobs", response_model=APIResponse[JobList])
async def list_jobs(
    jobs: JobsDep,
    owner: OwnerDep,
    state: Annotated[
        Literal["queued", "running", "succeeded", "failed", "cancelled"] | None, Query(description="only these")
    ] = None,
) -> APIResponse[JobList]:
    """Your jobs, oldest first."""
    return APIResponse(result=JobList(jobs=[info(job) for job in jobs.listed(owner, state)]))


@router.get("/{job_id}", name="get_job", response_model=APIResponse[JobInfo])
async def get_job(jobs: JobsDep, owner: OwnerDep, job_id: JobId) -> APIResponse[JobInfo]:
    """One job: state, progress, times, error, result and files."""
    return APIResponse(result=info(jobs.find(job_id, owner)))


@router.delete("/{job_id}", name="cancel_job", response_model=APIResponse[JobInfo])
async def cancel_job(jobs: JobsDep, owner: OwnerDep, job_id: JobId) -> APIResponse[JobInfo]:
    """Cancel a job: a queued one never runs; a running one's worker is ended at once (also inside a render or a
    boolean) and replaced. 409 when it already finished."""
    job = jobs.cancel(jobs.find(job_id, owner))
    if job.task is not None and not job.task.done():
        await asyncio.wait([job.task], timeout=CANCEL_WAIT)
    return APIResponse(result=info(job))


@router.get(
    "/{job_id}/files/{name}",
    name="download_job_file",
    response_class=FileResponse,
    responses={200: {"content": {media_type: {} for media_type in services.DOWNLOAD_MEDIA_TYPES}}},
)
async def download_job_file(
    jobs: JobsDep,
    owner: OwnerDep,
    job_id: JobId,
    name: Annotated[str, Path(pattern=FILE_NAME_PATTERN, max_length=80, description="one of the job's outputs")],
) -> FileResponse:
    """Download one of the job's files."""
    job = jobs.find(job_id, owner)
    path = jobs.output_path(job, name)
    if path is None:
        raise NotFoundError(f"Job {job_id} has no file {name!r}", {"job": job_id, "name": name})
    return FileResponse(
        path,
        media_type=services.media_type(name),
        headers={"Content-Disposition": services.content_disposition(name)},
    )
