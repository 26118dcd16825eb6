DROP TABLE live_events_pruned;
DROP TABLE live_events;
