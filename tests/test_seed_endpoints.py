"""Every endpoint of the seeds' API overview is routed: none answers "no such endpoint" or 405."""
import pytest

SEED_ENDPOINTS = [  # the 33 rows of the user's API overview, with example IDs in place of :id
    ("GET", "/products/demo"), ("GET", "/d/rel_0"), ("GET", "/ios/rel_0/manifest.plist"),
    ("GET", "/udid/profile.mobileconfig?variant=var_0"), ("POST", "/udid/callback"),
    ("GET", "/udid/status?variant=var_0"),
    ("GET", "/healthz"), ("POST", "/upload"), ("POST", "/admin/api/smart-upload"),
    ("GET", "/admin/api/products"), ("POST", "/admin/api/products"), ("GET", "/admin/api/products/prd_0"),
    ("PUT", "/admin/api/products/prd_0"), ("DELETE", "/admin/api/products/prd_0"),
    ("POST", "/admin/api/products/prd_0/variants"), ("PUT", "/admin/api/variants/var_0"),
    ("DELETE", "/admin/api/variants/var_0"), ("GET", "/admin/api/variants/var_0/stats"),
    ("DELETE", "/admin/api/releases/rel_0"), ("PUT", "/admin/api/apps/var_0/publish"),
    ("PUT", "/admin/api/apps/var_0/unpublish"), ("GET", "/admin/api/events"), ("GET", "/admin/api/ios_devices"),
    ("POST", "/admin/api/devices/dev_0/register-apple"), ("POST", "/admin/api/devices/register-apple"),
    ("GET", "/admin/api/settings"), ("PUT", "/admin/api/settings"), ("GET", "/admin/api/upload-config"),
    ("GET", "/admin/api/apple/status"), ("GET", "/admin/api/apple/devices"), ("GET", "/admin/exports/releases.csv"),
    ("GET", "/admin/exports/events.csv"), ("GET", "/admin/exports/ios_devices.csv"),
]


def test_the_table_has_every_seed_endpoint():
    assert len(set(SEED_ENDPOINTS)) == 33


@pytest.mark.parametrize("method,path", SEED_ENDPOINTS)
def test_every_seed_endpoint_is_routed(app, method, path):
    route = path.split("?")[0]
    adapter = app.url_map.bind("localhost")
    endpoint, _ = adapter.match(route, method=method)  # raises NotFound or MethodNotAllowed otherwise
    assert endpoint and "." in endpoint
