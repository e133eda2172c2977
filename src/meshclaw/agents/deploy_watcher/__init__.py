"""Deploy watcher: while the owner is in a meeting, a failing service gets an incident note and a rollback proposal."""
