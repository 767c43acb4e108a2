"""Archives as diff sources: read in memory, package root found, escaping members refused."""

from __future__ import annotations

import io
import tarfile
import zipfile
from pathlib import Path

import pytest

from crmctl.compat.archive import open_archive
from crmctl.errors import InputError
from tests.compat._cli import invoke

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "compat"
OLD = FIXTURES / "field_removed" / "old"
NEW = FIXTURES / "field_removed" / "new"


def _members(root: Path, prefix: str) -> dict[str, bytes]:
    return {f"{prefix}{p.relative_to(root).as_posix()}": p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def make_tar(target: Path, files: dict[str, bytes], links: dict[str, str] | None = None) -> Path:
    with tarfile.open(target, "w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for name, link in (links or {}).items():
            info = tarfile.TarInfo(name)
            info.type = tarfile.SYMTYPE
            info.linkname = link
            tar.addfile(info)
    return target


def make_zip(target: Path, files: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(target, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return target


def test_tar_gz_with_top_directory(tmp_path: Path) -> None:
    archive = make_tar(tmp_path / "old.tar.gz", _members(OLD, "Demo-1.0.0/"))
    result = invoke("diff", str(NEW), "--against", str(archive))
    assert result.code == 1
    assert "CMP101 field-removed" in result.out
    assert f"{archive} (Demo 1.0.0)" in result.out


def test_zip_and_tgz_as_both_sides(tmp_path: Path) -> None:
    old = make_zip(tmp_path / "old.zip", _members(OLD, ""))
    new = make_tar(tmp_path / "new.tgz", _members(NEW, "./"))
    result = invoke("diff", str(old), str(new), "-f", "json")
    assert result.code == 1
    assert '"kind": "field-removed"' in result.out


@pytest.mark.parametrize("bad", ["../evil.yaml", "/etc/evil.yaml", "pkg/../../evil.yaml"])
def test_traversal_members_are_refused(tmp_path: Path, bad: str) -> None:
    archive = make_tar(tmp_path / "bad.tar.gz", {**_members(OLD, ""), bad: b"x: 1\n"})
    result = invoke("diff", str(NEW), "--against", str(archive))
    assert result.code == 2
    assert "unsafe path" in result.err and "archive refused" in result.err


def test_zip_traversal_member_is_refused(tmp_path: Path) -> None:
    archive = make_zip(tmp_path / "bad.zip", {**_members(OLD, ""), "../evil.yaml": b"x: 1\n"})
    with pytest.raises(InputError, match="unsafe path"):
        open_archive(archive)


def test_symlink_escaping_the_archive_is_refused(tmp_path: Path) -> None:
    archive = make_tar(tmp_path / "link.tar.gz", _members(OLD, ""), links={"schema.yaml": "../../etc/passwd"})
    with pytest.raises(InputError, match="points outside the archive"):
        open_archive(archive)


def test_symlink_inside_the_archive_is_followed(tmp_path: Path) -> None:
    files = _members(OLD, "")
    files["real/schema.yaml"] = files.pop("schema.yaml")
    archive = make_tar(tmp_path / "link.tar.gz", files, links={"schema.yaml": "real/schema.yaml"})
    tree = open_archive(archive)
    assert tree.read("schema.yaml") == (OLD / "schema.yaml").read_bytes()


def test_archive_without_package_and_missing_archive(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"no package\.yaml"):
        open_archive(make_zip(tmp_path / "empty.zip", {"readme.txt": b"hi"}))
    with pytest.raises(InputError, match="no such archive"):
        open_archive(tmp_path / "missing.tar.gz")
    (tmp_path / "corrupt.zip").write_bytes(b"not a zip")
    with pytest.raises(InputError, match="cannot read archive"):
        open_archive(tmp_path / "corrupt.zip")
