"""Phone calls over Twilio Media Streams: the protocol, the front desk, and a caller that plays Twilio."""
