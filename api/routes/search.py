"""POST /v1/search: ranked passages without an answer."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import AssistantDep, ClientDep
from api.fastjson import FastJSONResponse
from api.schemas import ErrorResponse, SearchRequest, SearchResponse

router = APIRouter(tags=["search"])


@router.post(
    "/v1/search",
    response_model=SearchResponse,
    responses={422: {"model": ErrorResponse}, 503: {"model": ErrorResponse}},
)
def search_passages(
    body: SearchRequest, assistant: AssistantDep, client: ClientDep
) -> FastJSONResponse:
    """Hybrid search (dense + BM25) over the study corpus."""
    hits, version = assistant.search(
        body.query, body.k, sources=body.sources, phases=body.phases, mode=body.mode
    )
    # The SearchResponse fields, encoded once (no second pass through the response model).
    return FastJSONResponse({"results": [h.to_json() for h in hits], "index_version": version})
