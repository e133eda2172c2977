"""The injection suite: measures how the guard holds up against injected instructions.

A simulated workplace (``workplace``, ``sandbox_tools``, ``sandbox_extra``), scenario data
(``scenarios/*.yaml``, single scenarios and families of variants, loaded by ``catalog``, each
tagged with the guard-precision kinds it samples), scripted honest and hijacked models (``suite_model``), the harness that
runs them through the real runtime (``harness``) and the figures (``report``). The defence it
exercises besides the guard, the quarantined reader, is a connector: ``meshclaw.connectors.quarantine``
(connectors sit below this package, so the reader toolset can use it).
"""
