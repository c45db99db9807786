async def test_the_spec_describes_every_route_auth_and_errors(client):
    spec = (await client.get("/api/v1/openapi.json")).json()
    paths = spec["paths"]
    assert set(paths) == {
        "/api/v1/health",
        "/api/v1/verify-user",
        "/api/v1/keys/rotate",
        "/api/v1/chatbots",
        "/api/v1/chatbots/{chatbot_id}",
        "/api/v1/audit",
        "/api/v1/chat",
        "/api/v1/chat/completions",
    }
    scheme = spec["components"]["securitySchemes"]["HeHoApiKey"]
    assert scheme == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "heho_<prefix>_<secret>",
        "description": scheme["description"],
    }
    for path, operations in paths.items():
        shape = "OpenAIErrorResponse" if path == "/api/v1/chat/completions" else "ErrorResponse"
        error_ref = {"$ref": f"#/components/schemas/{shape}"}
        for method, operation in operations.items():
            responses = operation["responses"]
            content = responses["400"]["content"]["application/json"]["schema"]
            assert content == error_ref
            if path == "/api/v1/health":
                assert "security" not in operation
                continue
            assert operation["security"] == [{"HeHoApiKey": []}], (method, path)
            for status in ("401", "413", "415", "422", "429", "500"):
                schema = responses[status]["content"]["application/json"]["schema"]
                assert schema == error_ref, (method, path, status)
            assert "Retry-After" in responses["429"]["headers"]
    assert "HTTPValidationError" not in spec["components"]["schemas"]
    assert "404" in paths["/api/v1/chatbots/{chatbot_id}"]["get"]["responses"]
    for path in ("/api/v1/chat", "/api/v1/chat/completions"):
        content = paths[path]["post"]["responses"]["200"]["content"]
        assert set(content) == {"application/json", "text/event-stream"}, path
        assert paths[path]["post"]["requestBody"]["content"]["application/json"]["examples"]


async def test_the_patch_body_does_not_claim_null_defaults(client):
    spec = (await client.get("/api/v1/openapi.json")).json()
    update = spec["components"]["schemas"]["ChatbotUpdate"]
    assert update["additionalProperties"] is False
    assert "default" not in update["properties"]["name"]
