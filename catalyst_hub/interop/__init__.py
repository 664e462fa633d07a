"""Learning records out in the standards others read: xAPI statements (``xapi``), sent to a
Learning Record Store by the forwarder (``forwarder``)."""
