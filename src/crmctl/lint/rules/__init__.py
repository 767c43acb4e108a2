"""The rule catalogue, one module per code family, named for it: WF514 is in `wf.py`, L10N601 in `l10n.py`.

Each module lists its rule classes in `RULES`, in code order; `crmctl.lint.registry` collects them. What several
families share lives outside this package: `crmctl.lint.cel_checks` (CEL checks), `crmctl.lint.structure` (rules
the loader reports), `crmctl.lint.walk` (where forms, workflows and actions sit), `crmctl.lint.regex_safety`.
"""
