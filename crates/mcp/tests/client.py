"""End-to-end client for `middlebrick mcp`, using the official MCP Python SDK.

Run by crates/mcp/tests/mcp_client.rs: argv is the middlebrick binary, the history path and
the URL of a running vulnerable target. Prints one JSON object on stdout for the Rust test to
check; any failed expectation raises (non-zero exit, traceback on stderr).
"""

import asyncio
import json
import sys
import time

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

TOOLS = {"scan_api", "get_scan", "list_scans", "list_checks", "explain_finding", "diff_scans"}


def text_of(result):
    return "".join(getattr(c, "text", "") for c in result.content)


async def main(binary, history, target):
    server = StdioServerParameters(command=binary, args=["mcp", "--history", history])
    out = {}
    async with stdio_client(server) as (read, write):
        async with ClientSession(read, write) as session:
            init = await session.initialize()
            out["server"] = init.server_info.name

            tools = (await session.list_tools()).tools
            names = {t.name for t in tools}
            assert TOOLS <= names, f"missing tools: {TOOLS - names}"
            for t in tools:
                assert t.input_schema.get("type") == "object", t.name
                assert t.output_schema is not None, f"{t.name} has no output schema"
            out["tools"] = sorted(names)

            progress = []

            async def on_progress(value, total, message):
                progress.append(message)

            started = time.monotonic()
            scan = await session.call_tool(
                "scan_api", {"url": target, "mode": "safe"}, progress_callback=on_progress
            )
            out["scan_seconds"] = round(time.monotonic() - started, 2)
            assert not scan.is_error, text_of(scan)
            result = scan.structured_content
            assert result["findings"], "the vulnerable target gave no findings"
            assert result["grade"] in "ABCDF" and result["status"] == "complete", result
            assert f"scan {result['scan_id']}" in text_of(scan)
            out["scan_id"] = result["scan_id"]
            out["findings"] = sorted({f["check"] for f in result["findings"]})
            out["progress_notifications"] = len(progress)

            again = await session.call_tool("get_scan", {"scan_id": result["scan_id"]})
            assert not again.is_error, text_of(again)
            fetched = again.structured_content
            assert [f["id"] for f in fetched["findings"]] == [f["id"] for f in result["findings"]]

            listed = await session.call_tool("list_scans", {"limit": 5})
            assert listed.structured_content["scans"][0]["scan_id"] == result["scan_id"]

            first = result["findings"][0]
            explained = await session.call_tool(
                "explain_finding", {"id": first["id"], "stack": ["flask"]}
            )
            assert not explained.is_error, text_of(explained)
            assert explained.structured_content["check"] == first["check"]

            same = await session.call_tool(
                "diff_scans", {"old": result["scan_id"], "new": result["scan_id"]}
            )
            assert same.structured_content["new_findings"] == []

            checks = await session.call_tool("list_checks", {})
            assert len(checks.structured_content["checks"]) > 5

            started = time.monotonic()
            refused = await session.call_tool("scan_api", {"url": "http://8.8.8.8/"})
            out["refused_seconds"] = round(time.monotonic() - started, 3)
            assert refused.is_error, "a public host was scanned"
            out["refused_text"] = text_of(refused)

            active = await session.call_tool("scan_api", {"url": target, "mode": "active"})
            assert active.is_error, "active mode ran without --allow-active"
            out["active_text"] = text_of(active)

            disposable = await session.call_tool("scan_api", {"url": target, "mode": "disposable"})
            assert disposable.is_error, "disposable mode ran without --allow-disposable"
            out["disposable_text"] = text_of(disposable)
    print(json.dumps(out))


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:4]))
