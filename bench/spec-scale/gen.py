"""A synthetic OpenAPI 3.0 description with N operations, for bench/spec-scale.sh: resources of
four operations each (list with a page size, create, read, update), one shared schema, bearer
security, so that request synthesis, planning and every check's plan have real work per operation.

    python3 bench/spec-scale/gen.py N OUT.json
"""
import json, sys
n = int(sys.argv[1])
paths = {}
i = 0
r = 0
while i < n:
    base = f"/api/r{r}/items"
    paths[base] = {
        "get": {"operationId": f"list{r}", "parameters": [{"name": "limit", "in": "query", "schema": {"type": "integer"}}],
                "responses": {"200": {"description": "ok", "content": {"application/json": {"schema": {"type": "array", "items": {"$ref": "#/components/schemas/Item"}}}}}}},
        "post": {"operationId": f"create{r}", "requestBody": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Item"}}}},
                 "responses": {"201": {"description": "made", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Item"}}}}}},
    }
    paths[base + "/{item_id}"] = {
        "get": {"operationId": f"get{r}", "parameters": [{"name": "item_id", "in": "path", "required": True, "schema": {"type": "integer"}}],
                "responses": {"200": {"description": "ok", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Item"}}}}}},
        "patch": {"operationId": f"patch{r}", "parameters": [{"name": "item_id", "in": "path", "required": True, "schema": {"type": "integer"}}],
                  "requestBody": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Item"}}}},
                  "responses": {"200": {"description": "ok"}}},
    }
    i += 4
    r += 1
spec = {"openapi": "3.0.3", "info": {"title": "scale", "version": "1"}, "servers": [{"url": "/"}],
        "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
                       "schemas": {"Item": {"type": "object", "properties": {"id": {"type": "integer", "readOnly": True}, "name": {"type": "string"}, "owner_id": {"type": "integer"}}}}},
        "security": [{"bearer": []}], "paths": paths}
json.dump(spec, open(sys.argv[2], "w"))
