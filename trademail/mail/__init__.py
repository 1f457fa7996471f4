"""Mail as the gateway reads it: MIME parsed within bounds in worker processes, and a
member's address found in every form a mail can carry it and taken out. Only the gateway
(and the composition root that builds its reader) uses this package."""
