"""Test helpers shared by the test modules: a token-aware API client and envelope checks."""
import io

from corpus import require_samples

ADMIN_TOKEN = "admin-token-for-tests"
UPLOAD_TOKEN = "upload-token-for-tests"


class Api:
    """Calls the HTTP API with a token and unwraps the envelope."""

    def __init__(self, client, token):
        self.client = client
        self.token = token

    def call(self, method, path, token=None, **kwargs):
        headers = kwargs.pop("headers", {})
        token = self.token if token is None else token
        if token:
            headers["X-Auth-Token"] = token
        return self.client.open(path, method=method, headers=headers, **kwargs)

    def data(self, method, path, status=200, **kwargs):
        response = self.call(method, path, **kwargs)
        assert response.status_code == status, response.get_data(as_text=True)
        assert response.json["ok"] is True
        return response.json["data"]

    def create_product(self, **fields):
        body = {"name": "Demo App", "slug": "demo", **fields}
        return self.data("POST", "/admin/api/products", 201, json=body)["product"]

    def create_variant(self, product_id, **fields):
        body = {"platform": "android", "display_name": "Android", "identifier": "com.example.demo", **fields}
        return self.data("POST", f"/admin/api/products/{product_id}/variants", 201, json=body)["variant"]

    def upload(self, variant_id, file_name, content=None, token=UPLOAD_TOKEN, path="/upload", **fields):
        """POST a build as multipart; without `content`, the corpus sample called `file_name`."""
        content = (require_samples() / file_name).read_bytes() if content is None else content
        form = {"app_file": (io.BytesIO(content), file_name), **fields}
        if variant_id:
            form["variant_id"] = variant_id
        return self.call("POST", path, token=token, data=form, content_type="multipart/form-data")

    def upload_release(self, variant_id, file_name, content=None, **fields):
        """Upload that must succeed; returns the new release."""
        response = self.upload(variant_id, file_name, content, **fields)
        assert response.status_code == 201, response.get_data(as_text=True)
        return response.json["data"]["release"]


def assert_error(response, status, code, message_part=""):
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.json
    assert body["ok"] is False
    assert body["error"]["code"] == code
    assert message_part in body["error"]["message"]
