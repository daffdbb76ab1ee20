"""The API's request and response bodies as typed pydantic models: requests are validated by
them, responses are built from them, and the OpenAPI document's schemas come from them."""
