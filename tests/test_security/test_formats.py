"""The reference checks of ``bridge3d.formats`` on their own (no application needed): each format is read by its
content, the way its importer reads it, and what cannot be read is refused. test_references.py runs the same
checks through the gateway and the real host servers."""

from __future__ import annotations

import gzip
import io
import json
import struct
import zipfile
from pathlib import Path

import pytest

from bridge3d.formats import fcstd, references, sniff
from bridge3d.formats.names import UncheckableFile
from bridge3d.formats.usd import fast_decompress
from bridge3d.rpc.errors import InvalidParams

OUTSIDE = "/home/user/.ssh/id_rsa"
TRIANGLE = b"v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n"


def found(declared: str, name: str, content: bytes) -> list[str]:
    """The outside names the gateway's check reports."""
    return [entry["path"] for entry in references.upload_references(declared, name, io.BytesIO(content))]


def refused(declared: str, name: str, content: bytes) -> str:
    """The reason a file cannot be checked."""
    with pytest.raises(UncheckableFile) as caught:
        references.upload_references(declared, name, io.BytesIO(content))
    return str(caught.value)


def gltf(uri: str) -> dict[str, object]:
    return {"asset": {"version": "2.0"}, "buffers": [{"uri": uri, "byteLength": 36}]}


def glb(document: dict[str, object], chunk_type: bytes = b"JSON") -> bytes:
    data = json.dumps(document).encode()
    data += b" " * (-len(data) % 4)
    chunk = struct.pack("<I4s", len(data), chunk_type) + data
    return b"glTF" + struct.pack("<II", 2, 12 + len(chunk)) + chunk


def stored_zip(*entries: tuple[str, bytes], method: int = zipfile.ZIP_STORED) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", method) as archive:
        for name, data in entries:
            archive.writestr(name, data)
    return out.getvalue()


# --------------------------------------------------------------------- sniff
SNIFFED = [
    (glb(gltf("a.bin")), sniff.GLB),
    (b'{"asset": {}}', sniff.GLTF_JSON),
    (b"\xef\xbb\xbf \n{", sniff.GLTF_JSON),
    (b" " * 100_000 + b"{}", sniff.GLTF_JSON),
    (b"PXR-USDC" + b"\0" * 80, sniff.USD_CRATE),
    (b"#usda 1.0\n", sniff.USD_TEXT),
    (b"PK\x03\x04", sniff.ZIP),
    (b"BLENDER17-01v0500", sniff.BLEND),
    (gzip.compress(b"BLENDER", mtime=0), sniff.GZIP),
    (b"\x28\xb5\x2f\xfd", sniff.ZSTD),
    (b"Kaydara FBX Binary  \x00\x1a\x00", sniff.FBX),
    (b"solid x\nendsolid x\n", None),
    (b"\0" * 84, None),
    (b"", None),
]


@pytest.mark.parametrize(("content", "kind"), SNIFFED, ids=[f"{kind}-{i}" for i, (_, kind) in enumerate(SNIFFED)])
def test_sniff(content: bytes, kind: str | None) -> None:
    handle = io.BytesIO(content)
    assert sniff.sniff(handle) == kind
    assert handle.tell() == 0


# ---------------------------------------------------------------------- glTF
@pytest.mark.parametrize("declared", ["GLB", "GLTF", "STL", "PLY", "OBJ", "FBX"])
def test_gltf_is_read_by_its_content_whatever_it_is_declared_as(declared: str) -> None:
    name = f"model.{declared.lower()}"
    for content in (json.dumps(gltf(OUTSIDE)).encode(), glb(gltf(OUTSIDE))):
        if declared == "FBX":
            assert "binary FBX" in refused(declared, name, content)
        elif declared == "OBJ" and content.startswith(b"glTF"):
            assert "NUL" in refused(declared, name, content)  # and an OBJ must be text
        else:
            assert found(declared, name, content) == [OUTSIDE], (declared, content[:4])


def test_gltf_uris_as_the_importer_turns_them_into_paths() -> None:
    """Backslashes become '/', percent-escapes are decoded; only 'data:...;base64,' is data (a 'data:' path
    normalises to whatever follows 'data:/..')."""
    uris = {
        "data:/../../x.bin": "data:/../../x.bin",
        "..%2Fx.bin": "../x.bin",
        "..\\x.bin": "../x.bin",
        "file:///etc/passwd": "file:///etc/passwd",
        "data:application/octet-stream,../x.bin": "data:application/octet-stream,../x.bin",
    }
    for uri, path in uris.items():
        assert found("GLTF", "m.gltf", json.dumps(gltf(uri)).encode()) == [path], uri
    embedded = {"buffers": [{"uri": "data:application/octet-stream;base64,AAAA"}], "images": [{"uri": "tex.png"}]}
    assert found("GLTF", "m.gltf", json.dumps(embedded).encode()) == []


# (content, why, whether its content makes it glTF whatever it is declared as)
UNREADABLE_GLTF = [
    (b'{"asset": ', "JSON cannot be read", True),
    (b"\xef\xbb\xbf" + json.dumps(gltf("a.bin")).encode(), "JSON cannot be read", True),  # the importer refuses a BOM
    (b'{"a": NaN}', "JSON cannot be read", True),
    (b'{"a": ' + b"[" * 100_000, "nested too deeply", True),
    (b"glTF\x02\x00\x00\x00", "cut short", True),
    (glb(gltf("a.bin"), b"BIN\0"), "first chunk is not JSON", True),
    (glb(gltf("a.bin"))[:40], "cut short", True),
    (json.dumps(gltf("a.bin")).encode("utf-16"), "not UTF-8", False),
    (b"solid x\nendsolid x\n", "JSON cannot be read", False),
]


@pytest.mark.parametrize(("content", "why", "by_content"), UNREADABLE_GLTF, ids=range(len(UNREADABLE_GLTF)))
def test_gltf_that_cannot_be_read_is_refused(content: bytes, why: str, by_content: bool) -> None:
    for declared, name in (("GLTF", "m.gltf"), ("GLB", "m.glb")):
        assert why in refused(declared, name, content), declared
    if by_content:
        assert why in refused("STL", "m.stl", content)
    else:
        assert found("STL", "m.stl", content) == []


# ----------------------------------------------------------------------- OBJ
OUT = "../x.mtl"
# (statement, the library names reported: every way some reader takes the statement that leads outside; a name that
# stays inside, like "ok.mtl" alone, is not reported)
OBJ_LIBRARIES = [
    (b"mtllib ../x.mtl\n", [OUT]),
    (b"\xef\xbb\xbfmtllib ../x.mtl\n", [OUT]),
    (b"\x01\x1amtllib ../x.mtl\n", [OUT]),
    (b"\\mtllib ../x.mtl\n", [OUT]),
    (b"\xc2\xa0mtllib ../x.mtl\n", [OUT]),
    (b"mtllib\t../x.mtl\n", [OUT]),
    (b"mtllib\x0b../x.mtl\n", [OUT]),
    (b"mtllib\xa0../x.mtl\n", [OUT]),
    (b"MtlLib ../x.mtl\n", [OUT]),
    (b"# x\rmtllib ../x.mtl\n", [OUT]),
    (b'mtllib "../x.mtl"\n', ['"../x.mtl"', OUT]),  # quotes kept, or taken off
    (b"mtllib ok.mtl ../x.mtl\n", ["ok.mtl ../x.mtl", OUT]),  # one name with a space, or two names
    (b"mtllib ok.mtl\r../x.mtl\n", ["ok.mtl\r../x.mtl", OUT]),
    (b"mtllib \\\n../x.mtl\n", ["\\\n../x.mtl", "\\", OUT]),  # a continued line, or a backslash name
    (b"mtllib\\\n../x.mtl\n", [OUT]),
    (b"mtllib ok.mtl\\\r\n../x.mtl\n", ["ok.mtl\\\r\n../x.mtl", "ok.mtl\\", OUT]),
    (b"o x\n\\\n  mtllib ../x.mtl\n", [OUT]),
]


@pytest.mark.parametrize(("content", "reported"), OBJ_LIBRARIES)
def test_obj_library_statements_as_any_reader_takes_them(content: bytes, reported: list[str]) -> None:
    assert found("OBJ", "m.obj", content + TRIANGLE) == reported, content
    assert found("STL", "m.stl", content + TRIANGLE) == reported, content  # the lenient scan of other text


@pytest.mark.parametrize(
    ("content", "why"),
    [
        ("mtllib ../x.mtl\n".encode("utf-16"), "UTF-16"),
        ("mtllib ../x.mtl\n".encode("utf-32"), "UTF-16"),
        (b"\0mtllib ../x.mtl\n", "NUL"),
        (b"mtllib\0../x.mtl\n", "NUL"),
        (TRIANGLE + b"\0", "NUL"),
    ],
    ids=["utf16", "utf32", "nul-first", "nul-separator", "nul-last"],
)
def test_obj_that_is_not_text_is_refused(content: bytes, why: str) -> None:
    assert why in refused("OBJ", "m.obj", content)
    assert why in refused("STL", "m.obj", content)  # FreeCAD reads a .obj as OBJ, whatever the format says


def test_obj_scan_does_not_refuse_binary_or_plain_files() -> None:
    binary_stl = b"\0" * 80 + struct.pack("<I", 1) + b"\0" * 50
    assert found("STL", "m.stl", binary_stl) == []
    assert found("OBJ", "m.obj", b"\xef\xbb\xbfmtllib plain.mtl\r\n" + TRIANGLE) == []
    assert found("OBJ", "m.obj", b"o caf\xe9\n# mtllib in a comment ../x\n" + TRIANGLE) == []


def test_obj_statement_cut_by_a_chunk_boundary_is_found(monkeypatch: pytest.MonkeyPatch) -> None:
    from bridge3d.formats import obj

    monkeypatch.setattr(obj, "READ_CHUNK_BYTES", 7)
    assert found("OBJ", "m.obj", b"# padding\nmtllib ok.mtl\r../../x.mtl\n" + TRIANGLE) == [
        "ok.mtl\r../../x.mtl",
        "../../x.mtl",
    ]
    for cut in range(1, 12):  # a continued line is never cut between its lines
        monkeypatch.setattr(obj, "READ_CHUNK_BYTES", cut)
        assert found("OBJ", "m.obj", b"# pad\nmtllib\\\n../../x.mtl\n" + TRIANGLE) == ["../../x.mtl"], cut


# ----------------------------------------------------------------------- USD
def test_usd_must_be_crate_text_or_package() -> None:
    assert "not a USD file" in refused("USD", "m.usd", b"def Xform 'x' {}\n")
    assert "not a USD file" in refused("USD", "m.usda", b"\xef\xbb\xbf#usda 1.0\n")
    assert "extension" in refused("USD", "m.stl", b"#usda 1.0\n")
    assert found("USD", "m.usda", b"#usda 1.0\n(subLayers = [@/etc/x.usda@])\n") == ["/etc/x.usda"]
    assert found("STL", "m.stl", b"#usda 1.0\n(subLayers = [@../x.usda@])\n") == ["../x.usda"]


def test_usd_package_is_read_by_its_local_headers() -> None:
    """A central directory that shows another layer than the first local entry: the first entry is what USD
    opens, and it is checked."""
    hostile = stored_zip(("root.usda", b"#usda 1.0\n(subLayers = [@/etc/x.usda@])\n"))
    harmless = stored_zip(("root.usda", b"#usda 1.0\n"))
    content = hostile[: hostile.index(b"PK\x01\x02")] + harmless
    assert zipfile.ZipFile(io.BytesIO(content)).read("root.usda") == b"#usda 1.0\n"
    assert found("USD", "m.usdz", content) == ["/etc/x.usda"]


def test_usd_package_that_cannot_be_checked_is_refused() -> None:
    assert "compressed" in refused("USD", "m.usdz", stored_zip(("a.usda", b"#usda 1.0\n"), method=zipfile.ZIP_DEFLATED))
    assert "not checked" in refused("USD", "m.usdz", stored_zip(("a.usda", b"#usda 1.0\n"), ("b.mtlx", b"<x/>")))
    assert "no entry" in refused("USD", "m.usdz", b"PK\x03\x04" + b"\0" * 10)
    nested = stored_zip(("a.usdz", stored_zip(("b.usda", b"#usda 1.0\n(subLayers = [@/etc/x.usda@])\n"))))
    assert found("USD", "m.usdz", nested) == ["/etc/x.usda"]


def test_lz4_lengths_beyond_the_declared_size_are_refused_before_they_are_built() -> None:
    # One literal byte, then a match of offset 1 whose length runs over 1000 bytes of 255.
    block = bytes([0x1F]) + b"a" + b"\x01\x00" + b"\xff" * 1000 + b"\x00"
    with pytest.raises(UncheckableFile, match="larger than it says"):
        fast_decompress(b"\0" + block, 64)


# --------------------------------------------------------------- FBX, .blend
def test_fbx_must_be_binary() -> None:
    assert found("FBX", "m.fbx", b"Kaydara FBX Binary  \x00\x1a\x00" + b"\0" * 20) == []
    assert "ASCII FBX" in refused("FBX", "m.fbx", b"; FBX 7.4.0 project file\n")
    assert "binary FBX" in refused("FBX", "m.fbx", b"garbage")


def test_blend_must_be_what_blender_reads() -> None:
    for content in (b"BLENDER17-01v0500", gzip.compress(b"BLENDER-v300" + b"\0" * 64), b"\x28\xb5\x2f\xfd\0\0"):
        assert found("BLEND", "m.blend", content) == []
    for content in (b"garbage", gzip.compress(b"not a blend"), b"\xef\xbb\xbfBLENDER"):
        assert "not a .blend file" in refused("BLEND", "m.blend", content)


# -------------------------------------------------------------------- hosts
def test_host_check_follows_names_into_the_workspace(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    root.mkdir()
    outside = tmp_path / "outside.mtl"
    outside.write_text("newmtl x\n")
    # The library Blender also reads beside an OBJ (same name, .mtl) may not be a symlink out.
    (root / "m.mtl").symlink_to(outside)
    (root / "m.obj").write_bytes(TRIANGLE)
    with pytest.raises(InvalidParams) as caught:
        references.check_file("OBJ", root / "m.obj", root)
    assert caught.value.data["references"] == [{"kind": "mtllib", "name": "m.obj", "path": "m.mtl"}]
    # A packaged layer 'pkg.usdz[inner.usda]' is in pkg.usdz, which is checked.
    (root / "pkg.usdz").write_bytes(stored_zip(("inner.usda", b"#usda 1.0\n(subLayers = [@/etc/x.usda@])\n")))
    (root / "outer.usda").write_bytes(b"#usda 1.0\ndef X (references = @pkg.usdz[inner.usda]@) {}\n")
    with pytest.raises(InvalidParams) as caught:
        references.check_file("USD", root / "outer.usda", root)
    assert caught.value.data["references"][0] == {"kind": "usd_asset", "name": "pkg.usdz", "path": "/etc/x.usda"}
    # A layer in a format USD reads but the check does not.
    (root / "side.sdf").write_bytes(b"#sdf 1.4.32\n")
    (root / "sdf.usda").write_bytes(b"#usda 1.0\n(subLayers = [@side.sdf@])\n")
    with pytest.raises(InvalidParams, match="cannot be checked"):
        references.check_file("USD", root / "sdf.usda", root)


# ------------------------------------------------------------------- FCStd
DOCUMENT = (
    b"<?xml version='1.0' encoding='utf-8'?>\n<Document><ObjectData><Object name=\"Imp\"><Properties>"
    b'<Property name="FileName" type="App::PropertyFile"><String value="%s"/></Property>'
    b"</Properties></Object></ObjectData></Document>\n"
)


def test_fcstd_document_is_the_first_entry(tmp_path: Path) -> None:
    hostile, harmless = DOCUMENT % OUTSIDE.encode(), DOCUMENT % str(tmp_path / "in.stl").encode()
    cases = {
        "plain.FCStd": (stored_zip(("Document.xml", hostile), method=zipfile.ZIP_DEFLATED), [OUTSIDE]),
        "inside.FCStd": (stored_zip(("Document.xml", harmless)), []),
    }
    with pytest.warns(UserWarning, match="Duplicate name"):
        twice = stored_zip(("Document.xml", hostile), ("Document.xml", harmless))
    cases["twice.FCStd"] = (twice, [OUTSIDE])
    for name, (content, expected) in cases.items():
        (tmp_path / name).write_bytes(content)
        assert [r["path"] for r in fcstd.document_references(tmp_path / name, tmp_path)] == expected, name


UNCHECKABLE_DOCUMENTS = [
    (b"not a zip", "not a zip archive"),
    (stored_zip(("Hidden.xml", DOCUMENT % OUTSIDE.encode()), ("Document.xml", b"<Document/>")), "first entry"),
    (stored_zip(("Document.xml", b"<Document><Objects")), "not well-formed"),
    (stored_zip(("Document.xml", b'<!DOCTYPE d [<!ENTITY e "/etc/passwd">]><Document a="&e;"/>')), "DOCTYPE"),
]


@pytest.mark.parametrize(("content", "why"), UNCHECKABLE_DOCUMENTS, ids=[why for _, why in UNCHECKABLE_DOCUMENTS])
def test_fcstd_that_cannot_be_checked_is_refused(tmp_path: Path, content: bytes, why: str) -> None:
    (tmp_path / "d.FCStd").write_bytes(content)
    with pytest.raises(UncheckableFile, match=why):
        fcstd.document_references(tmp_path / "d.FCStd", tmp_path)


def test_fcstd_linked_document_that_is_no_document_is_refused(tmp_path: Path) -> None:
    linker = b'<Document><Object name="L"><XLink file="other.FCStd" name="x"/></Object></Document>'
    (tmp_path / "linker.FCStd").write_bytes(stored_zip(("Document.xml", linker)))
    (tmp_path / "other.FCStd").write_bytes(b"no document")
    with pytest.raises(UncheckableFile, match=r"other\.FCStd"):
        fcstd.document_references(tmp_path / "linker.FCStd", tmp_path)
    (tmp_path / "other.FCStd").write_bytes(stored_zip(("Document.xml", DOCUMENT % OUTSIDE.encode())))
    assert [r["path"] for r in fcstd.document_references(tmp_path / "linker.FCStd", tmp_path)] == [OUTSIDE]


def test_fcstd_deflated_with_sizes_after_the_data_is_read(tmp_path: Path) -> None:
    """A streamed archive (sizes in a data descriptor after the data) is read to the end of its deflate stream."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive, archive.open("Document.xml", "w") as entry:
        entry.write(DOCUMENT % OUTSIDE.encode())
    content = bytearray(out.getvalue())
    flags = struct.unpack_from("<H", content, 6)[0]
    struct.pack_into("<H", content, 6, flags | 0x08)  # as a streaming writer leaves the local header:
    struct.pack_into("<III", content, 14, 0, 0, 0)  # no CRC, no sizes
    (tmp_path / "s.FCStd").write_bytes(bytes(content))
    assert [r["path"] for r in fcstd.document_references(tmp_path / "s.FCStd", tmp_path)] == [OUTSIDE]
