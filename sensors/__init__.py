"""Triggers: outside events only — mail arrived, outcomes waiting, an approval given, a run
or check failed, a schedule fired — and the recovery each tick does (dead runs, dead
batches, deferred work). May use ops_assets/ and resources/; never the code location or the
owner's application.

Every sensor and schedule defined at the top of a module here joins the code location by
itself (location/triggers.py): a new trigger is a new module, with nothing to register.
"""
