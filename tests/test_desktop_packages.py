"""Desktop files: every corpus sample in tests/samples/desktop against its expected metadata, through the parser
and through POST /upload, and files made here for the rules the samples do not reach."""
import io
import json
import tarfile

import pytest

from fenfa_lib.models import Release
from fenfa_lib.packages import parse_package
from fenfa_lib.packages.appinfo import AppInfo, PackageError
from fenfa_lib.packages.deb import parse_deb
from fenfa_lib.packages.desktop import desktop_app_info

from corpus import png_pixels, require_samples, sample_names
from helpers import ADMIN_TOKEN, assert_error

DESKTOP = [name for name in sample_names("desktop/*") if not name.endswith((".md", ".json"))]
# Keys of the expected metadata that AppInfo.metadata carries under the same name or another.
METADATA_KEYS = {"arch": "arch", "arch_family": "arch_family", "summary": "summary", "epoch": "epoch",
                 "elf_class": "elf_class", "elf_e_machine": "elf_machine", "appimage_type": "appimage_type",
                 "manufacturer": "manufacturer", "product_code": "product_code", "template": "template",
                 "company": "company", "dotnet": "dotnet", "publisher": "publisher",
                 "target_device_family": "target_device_family", "title": "title", "app_bundle": "app_bundle"}


def expected(name):
    path = require_samples() / name
    return path, json.loads((path.parent / "expected-metadata-desktop.json").read_text("utf-8"))[path.name]


@pytest.mark.parametrize("name", DESKTOP)
def test_corpus_desktop_file_matches_expected_metadata(name):
    path, meta = expected(name)
    app = parse_package(path, path.name)

    if meta["kind"] == "dmg":  # a disk image is stored unread
        assert app == AppInfo()
        return
    assert (app.package_type, app.platform, app.is_app) == (meta["kind"], meta["platform"], False)
    assert app.identifier == (meta["identifier"] or "")
    assert app.version == (meta["version"] or "")
    assert app.build == meta.get("build", meta["version"] or "")
    assert app.display_name == (meta.get("name") or meta.get("title") or meta["identifier"] or "")
    assert app.min_os == meta.get("min_os")
    for key, metadata_key in METADATA_KEYS.items():
        if key in meta:
            assert app.metadata.get(metadata_key) == meta[key], key
    if meta.get("version_alternatives"):
        assert app.metadata["file_version"] in [meta["version"], *meta["version_alternatives"]]
    if meta["kind"] == "pkg":
        by_identifier = sorted(meta["components"].values(), key=lambda component: component["identifier"])
        assert sorted(app.metadata["components"], key=lambda component: component["identifier"]) == by_identifier
    assert bool(app.icon) == meta["has_icon"]
    if app.icon:
        width, height, _, _ = png_pixels(app.icon)
        assert 16 <= width == height <= 1024
    json.dumps(app.metadata)  # release.metadata is a JSON column


@pytest.mark.parametrize("name", DESKTOP)
def test_uploading_a_desktop_sample_shows_its_version_on_the_release(api, name):
    path, meta = expected(name)
    product = api.create_product()
    variant = api.create_variant(product["id"], platform=meta["platform"], identifier="com.example.desktop")
    release = api.upload_release(variant["id"], path.name, path.read_bytes())
    assert release["version"] == (meta["version"] or "")
    assert release["build"] == meta.get("build", meta["version"] or "")
    row = Release.get_by_id(release["id"])
    assert (row.identifier, row.min_os) == (meta["identifier"] or "com.example.desktop", meta.get("min_os") or "")
    assert (row.icon_key is not None) == meta["has_icon"]


NAMED = [name for name in DESKTOP if expected(name)[1]["identifier"]]
UNNAMED = [name for name in DESKTOP if not expected(name)[1]["identifier"]]


@pytest.mark.parametrize("name", NAMED)
def test_smart_upload_files_a_desktop_package_that_names_itself_by_platform_and_identifier(api, name):
    path, meta = expected(name)
    first = api.upload(None, path.name, path.read_bytes(), token=ADMIN_TOKEN, path="/admin/api/smart-upload")
    assert first.status_code == 201, first.get_json()
    app = first.get_json()["data"]["app"]
    variants = api.data("GET", f"/admin/api/products/{app['product_id']}")["variants"]
    variant = next(variant for variant in variants if variant["id"] == app["variant_id"])
    assert (variant["platform"], variant["identifier"]) == (meta["platform"], meta["identifier"])
    again = api.upload(None, path.name, path.read_bytes(), path="/admin/api/smart-upload")  # the upload token
    assert again.status_code == 201 and again.get_json()["data"]["app"]["variant_id"] == app["variant_id"]


def test_an_upload_token_cannot_create_the_variant_of_a_desktop_package(api):
    path, meta = expected(NAMED[0])
    response = api.upload(None, path.name, path.read_bytes(), path="/admin/api/smart-upload")
    assert_error(response, 403, "FORBIDDEN", f"identifier {meta['identifier']}")


@pytest.mark.parametrize("name", UNNAMED)
def test_smart_upload_of_a_desktop_file_that_names_no_app_needs_a_variant(api, name):
    path, _ = expected(name)
    response = api.upload(None, path.name, path.read_bytes(), token=ADMIN_TOKEN, path="/admin/api/smart-upload")
    assert_error(response, 400, "BAD_REQUEST", "variant_id is required")


def test_parse_app_reads_desktop_packages(api):
    path, meta = expected("desktop/linux-deb-hello_2.10-3_amd64.deb")
    data = api.data("POST", "/admin/api/parse-app", data={"app_file": (io.BytesIO(path.read_bytes()), path.name)},
                    content_type="multipart/form-data")
    assert (data["platform"], data["identifier"], data["version"]) == ("linux", meta["identifier"], meta["version"])


def test_a_package_for_another_platform_says_nothing_about_the_variant_it_is_uploaded_to(api):
    path, _ = expected("desktop/macos-zip-guiapp-1.0-icns.zip")
    variant = api.create_variant(api.create_product()["id"], platform="windows", identifier="com.example.win")
    release = api.upload_release(variant["id"], path.name, path.read_bytes())
    row = Release.get_by_id(release["id"])
    assert (release["version"], row.identifier, row.icon_key, row.metadata) == ("", "com.example.win", None, {})


def control_tar(control, compress="gz"):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode=f"w:{compress}") as archive:
        for name, data in {"./control": control, "./md5sums": b""}.items():
            member = tarfile.TarInfo(name)
            member.size = len(data)
            archive.addfile(member, io.BytesIO(data))
    return buffer.getvalue()


def make_deb(path, control_member, member_name="control.tar.gz"):
    def member(name, data):
        header = f"{name:<16}{0:<12}{0:<6}{0:<6}{100644:<8}{len(data):<10}`\n".encode()
        return header + data + (b"\n" if len(data) % 2 else b"")

    path.write_bytes(b"!<arch>\n" + member("debian-binary", b"2.0\n") + member(member_name, control_member)
                     + member("data.tar.gz", b""))
    return path


CONTROL = b"Package: tool\nVersion: 1.2-3\nArchitecture: arm64\nDescription: a tool\n more about it\n"


@pytest.mark.parametrize("compress", ["gz", "xz", "bz2"])
def test_deb_control_archives_in_each_compression(tmp_path, compress):
    app = parse_deb(make_deb(tmp_path / "tool.deb", control_tar(CONTROL, compress), f"control.tar.{compress}"))
    assert (app.identifier, app.version, app.metadata["arch_family"]) == ("tool", "1.2-3", "arm64")
    assert app.metadata["summary"] == "a tool"


def test_deb_control_archive_in_zstd(tmp_path):
    import zstandard

    member = zstandard.ZstdCompressor().compress(control_tar(CONTROL, ""))
    app = parse_deb(make_deb(tmp_path / "tool.deb", member, "control.tar.zst"))
    assert (app.identifier, app.version) == ("tool", "1.2-3")


@pytest.mark.parametrize(("control", "message"), [
    (b"Version: 1.0\n", "no Package field"),
    (b"Package: two words\nVersion: 1\n", "identifier is not valid"),
    (b"Package: tool\nVersion: " + b"9" * 65 + b"\n", "longer than 64"),
])
def test_deb_with_a_damaged_control_file_is_refused(tmp_path, control, message):
    with pytest.raises(PackageError, match=message):
        parse_deb(make_deb(tmp_path / "bad.deb", control_tar(control)))


@pytest.mark.parametrize("content", [b"!<arch>\n", b"!<arch>\n" + b"\0" * 200, b"!<arch>\nnot a member header"])
def test_deb_whose_archive_does_not_parse_says_nothing(tmp_path, content):
    path = tmp_path / "odd.deb"
    path.write_bytes(content)
    assert parse_deb(path) == AppInfo()


def test_deb_whose_control_archive_is_not_compressed_data_is_refused(tmp_path):
    with pytest.raises(PackageError, match="control.tar.gz cannot be read"):
        parse_deb(make_deb(tmp_path / "bad.deb", b"not gzip at all"))


def test_desktop_app_info_keeps_false_and_zero_but_drops_empty_values():
    app = desktop_app_info("exe", "windows", metadata={"dotnet": False, "elf_machine": 0, "arch": None,
                                                       "company": "", "components": []})
    assert app.metadata == {"dotnet": False, "elf_machine": 0}
