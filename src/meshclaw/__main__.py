from meshclaw.surfaces.cli.main import run

run()
