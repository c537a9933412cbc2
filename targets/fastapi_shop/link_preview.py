"""Link previews: the shop fetches a page a customer pastes into a note and describes it."""

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query
from fastapi.concurrency import run_in_threadpool
from pydantic import AnyHttpUrl, BaseModel, Field

from common import outbound
from common.variant import planted
from fastapi_shop.auth import UNAUTHORIZED, get_current_user
from fastapi_shop.schemas import Message

router = APIRouter(prefix="/api/links", tags=["notes"], responses=UNAUTHORIZED)

CurrentUser = Annotated[dict, Depends(get_current_user)]

# The sites the secure build previews.
PREVIEW_HOSTS = frozenset({"docs.example-partner.test", "blog.example-partner.test"})


class Preview(BaseModel):
    address: str = Field(examples=["https://docs.example-partner.test/returns"])
    status: int = Field(examples=[200])
    content_type: str = Field(examples=["text/html; charset=utf-8"])
    bytes: int = Field(examples=[18324])


@router.get(
    "/preview",
    response_model=Preview,
    summary="Preview a link",
    responses={
        422: {"model": Message, "description": "Not a site the shop previews"},
        502: {"model": Message, "description": "The site could not be reached"},
    },
)
async def preview(address: Annotated[AnyHttpUrl, Query()], _user: CurrentUser):
    url = str(address)
    if planted("injection.ssrf"):
        # FLAW injection.ssrf: any http(s) URL is fetched as given, loopback and private
        # addresses included, redirects followed; the upstream status is told back.
        fetch = outbound.fetch
    else:
        if not await run_in_threadpool(outbound.allowed, url, PREVIEW_HOSTS):
            raise HTTPException(status_code=422, detail="The shop previews its partners' sites only")

        def fetch(u: str):
            return outbound.fetch_allowed(u, PREVIEW_HOSTS)

    try:
        status, content_type, size = await run_in_threadpool(fetch, url)
    except outbound.FetchFailed:
        raise HTTPException(status_code=502, detail="Could not reach the site")
    return {"address": url, "status": status, "content_type": content_type, "bytes": size}
