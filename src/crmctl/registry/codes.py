"""The codes of registry problems (`verify` findings, publish and write refusals), for `crmctl explain` and docs.

docs/registry.md's table of problem codes is this catalogue (tests/registry/test_codes.py keeps them equal), and
every `REGnnn` the registry plane raises is in it.
"""

from __future__ import annotations

__all__ = ["REGISTRY_CODES"]

# code -> what the problem means (one sentence, as docs/registry.md's table says it)
REGISTRY_CODES: dict[str, str] = {
    "REG101": "a log entry is missing or not canonical JSON",
    "REG102": "sequence numbers have a gap or are out of order (an entry deleted or reordered)",
    "REG103": "`prev` does not match the previous entry's hash (the chain is broken)",
    "REG104": "an entry's signature does not verify",
    "REG105": "an entry's signer is unknown, removed, not that identity, or not allowed for the change",
    "REG106": (
        "a signed entry of an unknown type, with a key too many or too few, or a value of the wrong type or syntax"
    ),
    "REG107": (
        "`crmctl-registry.json` names another registry than the log, or is not exactly what crmctl writes for"
        " it (id and format)"
    ),
    "REG109": (
        "an entry's time is malformed, earlier than the previous entry or than its signer's addition, or more"
        " than 5 minutes after the verifying clock"
    ),
    "REG110": "a package name, version or signer identity differs only by letter case from an earlier one",
    "REG201": "a published version's files are missing",
    "REG202": "`canonical.json` or `digest` does not match the logged digest",
    "REG203": "the artifacts do not load to the logged digest",
    "REG204": "`signature.sig` does not verify with the publishing signer's key",
    "REG205": "the version's tag is missing or does not point at the commit that published it",
    "REG206": (
        "files under `packages/` that no log entry published, or a file in a published version's directory "
        "that publish does not write"
    ),
    "REG207": "a version's files changed in a commit after the commit that published it",
    "REG208": "`provenance.json` differs from the provenance in the publish entry",
    "REG301": "the version does not lint clean",
    "REG302": "the version is not higher than every earlier version",
    "REG303": "a breaking change against an earlier version",
    "REG304": "the package changed scope",
    "REG305": "a data-dependent change against an earlier version, neither shown safe by `--records` nor accepted",
    "REG306": "a data-dependent change that the stored records (`--records`) show to break some records, not accepted",
    "REG401": "`index.json` differs from the log",
    "REG402": "`trust/allowed_signers` differs from the log",
    "REG403": (
        "a file outside the documented layout, or an entry that is not a plain file (a symlink, an "
        "executable, a submodule)"
    ),
    "REG501": "the remembered head is gone: history rewritten, rolled back, forked, or the registry replaced",
    "REG502": (
        "`main`'s history breaks the log's rules: a merge commit, a commit adding several entries or not the "
        "next one, an entry file changed, deleted, renamed or re-added"
    ),
}
