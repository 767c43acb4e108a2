from crmctl.cli.main import run

run()
