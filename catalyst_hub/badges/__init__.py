"""Open Badges 3.0 credentials for completed training: signing, verification, status lists."""
