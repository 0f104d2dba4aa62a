"""Platform core: app factory, configuration, database, errors, clock, storage, tasks, notifications."""
