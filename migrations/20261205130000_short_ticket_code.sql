-- The short ticket code door staff can type: stored, like every token, only as a hash.
ALTER TABLE reservation_tokens DROP CONSTRAINT reservation_tokens_purpose_check;
ALTER TABLE reservation_tokens
    ADD CONSTRAINT reservation_tokens_purpose_check CHECK (purpose IN ('confirm', 'ticket', 'cancel', 'short_code'));
