"""Crafted archives: every size is bounded before it is read, and every archive gives a tree or a located error."""

from __future__ import annotations

import gzip
import io
import resource
import struct
import subprocess
import sys
import tarfile
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crmctl.compat import archive
from crmctl.compat.archive import MAX_EXTENDED_HEADER, MAX_MEMBERS, open_archive
from crmctl.errors import InputError
from tests.compat._cli import invoke
from tests.compat.test_archives import NEW, OLD, _members

MANIFEST = (OLD / "package.yaml").read_bytes()


def _header(name: str, size: int, kind: bytes, linkname: str = "") -> bytes:
    info = tarfile.TarInfo(name)
    info.size, info.type, info.linkname = size, kind, linkname
    return info.tobuf(format=tarfile.GNU_FORMAT)[: tarfile.BLOCKSIZE]


def _padded(data: bytes) -> bytes:
    return data + b"\0" * (-len(data) % tarfile.BLOCKSIZE)


def _record(keyword: str, value: str) -> bytes:
    """One PAX record, `<length> <keyword>=<value>\\n`, whose length counts its own digits."""
    rest = f" {keyword}={value}\n".encode()
    length = len(rest) + 1
    while len(str(length)) + len(rest) != length:
        length += 1
    return str(length).encode() + rest


def _pax(*records: bytes) -> list[bytes]:
    body = b"".join(records)
    return [_header("././@PaxHeader", len(body), tarfile.XHDTYPE), _padded(body)]


def _package() -> list[bytes]:
    return [_header("package.yaml", len(MANIFEST), tarfile.REGTYPE), _padded(MANIFEST)]


def _tar_gz(path: Path, blocks: list[bytes]) -> Path:
    path.write_bytes(gzip.compress(b"".join(blocks) + b"\0" * 2 * tarfile.BLOCKSIZE, compresslevel=1))
    return path


@pytest.mark.parametrize(
    ("blocks", "message"),
    [
        # A huge PAX header or GNU long name used to be read whole (2 GB from a 2 MB file) before any check.
        ([_header("././@PaxHeader", 1 << 31, tarfile.XHDTYPE)], "has a 2147483648-byte extended header"),
        ([_header("././@LongLink", 1 << 31, tarfile.GNUTYPE_LONGNAME)], "has a 2147483648-byte extended header"),
        ([_header("././@LongLink", 1 << 31, tarfile.GNUTYPE_LONGLINK)], "has a 2147483648-byte extended header"),
        ([_header("g", MAX_EXTENDED_HEADER + 1, tarfile.XGLTYPE)], f"has a {MAX_EXTENDED_HEADER + 1}-byte extended"),
        # Digit runs make tarfile's PAX regexes quadratic on Python < 3.11.10 and < 3.12.6 (CVE-2024-6232).
        (_pax(b"0" * 60_000), "malformed PAX header (a run of more than 64 digits)"),
        (_pax(_record("comment", "1" * 65)), "malformed PAX header (a run of more than 64 digits)"),
        (_pax(b"9 a=b\n"), "malformed PAX header (record at byte 0)"),
        (_pax(_record("path", "x"), b"5 a=bcdef\n"), "malformed PAX header (record at byte 9)"),
        (_pax(b"12 path\n\n\n\n"), "malformed PAX header (record at byte 0)"),
        (_pax(_record("GNU.sparse.major", "1")), "malformed PAX header (sparse file)"),
        ([_header("s", 10, tarfile.GNUTYPE_SPARSE)], "member 's' is a sparse file"),
        (_pax(_record("comment", "x")) * 5, "more than 4 extended headers in a row"),
        ([_header("dev", 0, tarfile.CHRTYPE)], "member 'dev' is not a regular file"),
        ([_header("disk", 0, tarfile.BLKTYPE)], "member 'disk' is not a regular file"),
        ([_header("pipe", 0, tarfile.FIFOTYPE)], "member 'pipe' is not a regular file"),
        ([_header("/etc/x.yaml", 0, tarfile.REGTYPE)], "member '/etc/x.yaml' has an unsafe path"),
        ([_header("a/../../x.yaml", 0, tarfile.REGTYPE)], "member 'a/../../x.yaml' has an unsafe path"),
        ([_header("h", 0, tarfile.LNKTYPE, "../../etc/passwd")], "member '../../etc/passwd' has an unsafe path"),
        ([_header("s", 0, tarfile.SYMTYPE, "/etc/passwd")], "link 's' points to absolute path '/etc/passwd'"),
        ([_header("big.yaml", 1 << 40, tarfile.REGTYPE)], "member 'big.yaml' is 1099511627776 bytes"),
    ],
)
def test_crafted_tar_members_are_refused_before_they_are_read(
    tmp_path: Path, blocks: list[bytes], message: str
) -> None:
    path = _tar_gz(tmp_path / "crafted.tar.gz", blocks + _package())
    with pytest.raises(InputError) as info:
        open_archive(path)
    assert info.value.message.startswith(f"{path}: ")
    assert message in info.value.message


def test_the_number_of_tar_members_is_bounded(tmp_path: Path) -> None:
    blocks = [_header(f"f{i}", 0, tarfile.REGTYPE) for i in range(MAX_MEMBERS)]
    with pytest.raises(InputError, match=f"more than {MAX_MEMBERS} members"):
        open_archive(_tar_gz(tmp_path / "many.tar.gz", blocks + _package()))
    assert open_archive(_tar_gz(tmp_path / "enough.tar.gz", blocks[:-1] + _package())).files()[0] == "f0"


def test_a_gzip_bomb_stops_at_the_decompressed_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(archive, "MAX_ARCHIVE_BYTES", 3 * 1024 * 1024)
    blocks = [*_package(), _header("zeros", 4 << 20, tarfile.REGTYPE), b"\0" * (4 << 20)]
    with pytest.raises(InputError, match=r"archive expands beyond 3145728 bytes; refused"):
        open_archive(_tar_gz(tmp_path / "bomb.tar.gz", blocks))


def test_a_huge_long_name_stays_within_bounded_memory(tmp_path: Path) -> None:
    # The reported attack: a 2 MB file whose GNU long name claims 2 GiB of zeros. Concatenated gzip members of
    # 1 MiB of zeros each build it without compressing 2 GiB here.
    zeros = gzip.compress(b"\0" * (1 << 20), compresslevel=9)
    head = gzip.compress(_header("././@LongLink", 2 << 30, tarfile.GNUTYPE_LONGNAME))
    path = tmp_path / "longname.tar.gz"
    path.write_bytes(head + zeros * 2048)
    assert path.stat().st_size < 3 << 20

    def limit_memory() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))

    code = "from crmctl.cli.main import run; run()"
    done = subprocess.run(
        [sys.executable, "-c", code, "diff", str(NEW), "--against", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=limit_memory,
        check=False,
    )
    assert done.returncode == 2, done.stderr[-1500:]
    assert "archive expands beyond 268435456 bytes; refused" in done.stderr


def test_deep_yaml_in_a_tiny_archive_is_a_located_error(tmp_path: Path) -> None:
    # 30,000 nested brackets compress to a few hundred bytes; they crashed the interpreter (exit 139).
    deep = b"entities: " + b"[" * 30_000 + b"]" * 30_000 + b"\n"
    blocks = [*_package(), _header("schema.yaml", len(deep), tarfile.REGTYPE), _padded(deep)]
    path = _tar_gz(tmp_path / "deep.tar.gz", blocks)
    assert path.stat().st_size < 1024
    result = invoke("diff", str(NEW), "--against", str(path))
    assert result.code == 2
    assert f"{path}/schema.yaml:1:75: nesting is deeper than 64 levels" in result.err


@pytest.mark.parametrize("form", [tarfile.USTAR_FORMAT, tarfile.GNU_FORMAT, tarfile.PAX_FORMAT])
def test_ordinary_archives_of_every_tar_format_read(tmp_path: Path, form: int) -> None:
    top = "Demo-1.0.0/" + "d" * 120 if form != tarfile.USTAR_FORMAT else "Demo-1.0.0"
    files = _members(OLD, f"{top}/")
    files[f"{top}/notes/é-ü.txt"] = b"non-ASCII names need PAX or GNU headers"
    path = tmp_path / "formats.tar.gz"
    with tarfile.open(path, "w:gz", format=form) as tar:
        for name, data in files.items():
            if form == tarfile.USTAR_FORMAT and not name.isascii():
                continue
            info = tarfile.TarInfo(name)
            info.size, info.mtime = len(data), 1_700_000_000.5
            tar.addfile(info, io.BytesIO(data))
        for kind, name in ((tarfile.SYMTYPE, "copy.yaml"), (tarfile.LNKTYPE, "hard.yaml")):
            link = tarfile.TarInfo(f"{top}/{name}")
            link.type, link.linkname = kind, "schema.yaml" if kind == tarfile.SYMTYPE else f"{top}/schema.yaml"
            tar.addfile(link)
    tree = open_archive(path)
    assert tree.read("schema.yaml") == tree.read("copy.yaml") == tree.read("hard.yaml") == files[f"{top}/schema.yaml"]


def test_an_uncompressed_tar_reads(tmp_path: Path) -> None:
    path = tmp_path / "plain.tar.gz"
    path.write_bytes(b"".join(_package()) + b"\0" * 1024)
    assert open_archive(path).files() == ["package.yaml"]


def test_a_chain_of_links_longer_than_the_hop_limit_is_not_followed(tmp_path: Path) -> None:
    blocks = _package() + [_header(f"l{i}", 0, tarfile.SYMTYPE, f"l{i + 1}") for i in range(59)]
    blocks += [_header("l59", 0, tarfile.SYMTYPE, "package.yaml")]
    tree = open_archive(_tar_gz(tmp_path / "links.tar.gz", blocks))
    assert tree.read("l30") == MANIFEST  # 30 hops
    with pytest.raises(InputError, match="no such member"):
        tree.read("l0")  # 60 hops


def _zip(entries: list[tuple[str, bytes]], compression: int = zipfile.ZIP_STORED) -> bytearray:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as out:
        for name, data in entries:
            out.writestr(name, data)
    return bytearray(buffer.getvalue())


def _patch(data: bytearray, fields: list[tuple[bytes, int, str, int]]) -> bytes:
    """Overwrite a field (struct format at an offset) of the first header with each signature."""
    for signature, offset, form, value in fields:
        at = data.find(signature) + offset
        data[at : at + struct.calcsize(form)] = struct.pack(form, value)
    return bytes(data)


_LOCAL, _CENTRAL = b"PK\x03\x04", b"PK\x01\x02"


_ZIP_CASES: dict[str, tuple[Callable[[], bytes], str]] = {
    "large central directory": (
        lambda: bytes(_zip([(f"{'n' * 200}{i}", b"") for i in range(20_000)])),
        "central directory of 5008890 bytes; the limit is 4194304",
    ),
    "many members": (
        lambda: bytes(_zip([(f"f{i}", b"") for i in range(MAX_MEMBERS + 1)])),
        f"more than {MAX_MEMBERS} members",
    ),
    "unknown compression": (
        lambda: _patch(_zip([("package.yaml", MANIFEST)]), [(_LOCAL, 8, "<H", 99), (_CENTRAL, 10, "<H", 99)]),
        "cannot read archive: That compression method is not supported",
    ),
    "encrypted": (
        lambda: _patch(_zip([("package.yaml", MANIFEST)]), [(_LOCAL, 6, "<H", 1), (_CENTRAL, 8, "<H", 1)]),
        "is encrypted, password required",
    ),
    "corrupt deflate": (
        lambda: _patch(_zip([("package.yaml", MANIFEST * 40)], zipfile.ZIP_DEFLATED), [(_LOCAL, 42, "<I", 0xFFFFFFFF)]),
        "cannot read archive: Error -3 while decompressing data",
    ),
    "more data than declared": (
        lambda: _patch(
            _zip([("package.yaml", b"a" * 100_000)], zipfile.ZIP_DEFLATED),
            [(_LOCAL, 22, "<I", 100), (_CENTRAL, 24, "<I", 100)],
        ),
        "cannot read archive: Bad CRC-32",
    ),
    "huge declared size": (
        lambda: _patch(_zip([("package.yaml", MANIFEST)]), [(_CENTRAL, 24, "<I", 1 << 30)]),
        "is 1073741824 bytes",
    ),
    "huge compressed size": (
        lambda: _patch(_zip([("package.yaml", MANIFEST)]), [(_CENTRAL, 20, "<I", 1 << 30)]),
        "is 1073741824 bytes",
    ),
    "truncated": (lambda: bytes(_zip([("package.yaml", MANIFEST)]))[:-30], "cannot read archive: File is not a zip"),
    "traversal": (lambda: bytes(_zip([("../evil.yaml", b"x")])), "member '../evil.yaml' has an unsafe path"),
}


@pytest.mark.parametrize("case", sorted(_ZIP_CASES))
def test_crafted_zips_are_refused_with_a_message(tmp_path: Path, case: str) -> None:
    build, message = _ZIP_CASES[case]
    path = tmp_path / "crafted.zip"
    path.write_bytes(build())
    with pytest.raises(InputError) as info:
        open_archive(path)
    assert info.value.message.startswith(f"{path}: ")
    assert message in info.value.message


_TAR = (
    b"".join(
        [
            *_package(),
            *_pax(_record("path", "schema.yaml")),
            _header("x", 9, tarfile.REGTYPE),
            _padded(b"a: [1, 2]"),
            _header("l", 0, tarfile.SYMTYPE, "schema.yaml"),
        ]
    )
    + b"\0" * 1024
)
_ZIP = bytes(_zip([("package.yaml", MANIFEST), ("schema.yaml", b"a: 1\n")], zipfile.ZIP_DEFLATED))


@settings(max_examples=300, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(
    base=st.sampled_from(["tar", "zip"]),
    edits=st.lists(st.tuples(st.integers(0, 4_000), st.binary(min_size=1, max_size=8)), max_size=6),
    cut=st.integers(0, 4_000),
)
def test_mutated_archives_give_a_tree_or_a_located_error(
    tmp_path_factory: pytest.TempPathFactory, base: str, edits: list[tuple[int, bytes]], cut: int
) -> None:
    data = bytearray(_TAR if base == "tar" else _ZIP)
    for offset, chunk in edits:
        at = offset % len(data)
        data[at : at + len(chunk)] = chunk
    if cut:
        del data[cut % len(data) :]
    path = tmp_path_factory.mktemp("fuzz") / ("a.tar.gz" if base == "tar" else "a.zip")
    path.write_bytes(gzip.compress(bytes(data), compresslevel=1) if base == "tar" else bytes(data))
    try:
        tree = open_archive(path)
    except InputError as exc:
        assert exc.message.startswith(f"{path}: ")
        return
    for name in tree.files():
        assert tree.read(name) is not None
