"""PostgreSQL NOTIFY channels the gateway's processes use to wake each other."""

#: new inquiries were queued (or a batch was approved): claim loops should look
QUEUED = "gateway_inquiries_queued"
#: a batch was cancelled; the payload is its id, so in-flight calls for it are stopped
CANCELLED = "gateway_batch_cancelled"
