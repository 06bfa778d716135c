"""GET /v1/passages/{chunk_id}: a cited passage whole, with its neighbours in its source."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path
from pydantic import BaseModel

from api.deps import AssistantDep, ClientDep
from api.schemas import ErrorResponse

router = APIRouter(tags=["search"])


class Neighbour(BaseModel):
    chunk_id: str
    section: str
    preview: str


class PhaseRef(BaseModel):
    number: int
    title: str | None


class PassageResponse(BaseModel):
    chunk_id: str
    text: str
    title: str
    source: str
    url: str | None
    section: str
    headings: list[str]
    topic: str
    phases: list[PhaseRef]
    position: int
    count: int
    previous: Neighbour | None
    next: Neighbour | None
    index_version: str


@router.get(
    "/v1/passages/{chunk_id}",
    response_model=PassageResponse,
    responses={404: {"model": ErrorResponse}, 503: {"model": ErrorResponse}},
)
def read_passage(
    chunk_id: Annotated[str, Path(min_length=1, max_length=100)],
    assistant: AssistantDep,
    client: ClientDep,
) -> dict[str, Any]:
    """A passage (as citations name it by chunk_id) with its heading path and neighbours."""
    snap = assistant.snapshot  # the version this request reads, even if a reload swaps it
    passage = snap.passages.passage(chunk_id, snap.version)
    return passage.to_json(snap.version, assistant.roadmap)
