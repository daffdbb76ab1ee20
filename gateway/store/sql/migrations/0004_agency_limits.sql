-- Agency limits held across replicas (gateway/limits.py): in-flight permits leased per process,
-- and a shared record of send times for each agency's request rate.

-- One row per agency: the send times handed out most recently (at most `count` of them, in
-- order). An agency allows `count` requests in any window of `window` seconds; a new send time
-- is never earlier than the last one, nor than the one `count` before it plus the window
-- (plus a tolerance: a send time may be used that much late). Replicas reserve send times
-- under the row lock, a few at a time.
CREATE TABLE agency_rate (
    agency  text PRIMARY KEY,
    sent    timestamptz[] NOT NULL DEFAULT '{}'
);

CREATE FUNCTION agency_rate_reserve(
    p_agency text, p_wanted integer, p_count integer, p_window double precision,
    p_tolerance double precision
) RETURNS double precision[]
LANGUAGE plpgsql
AS $$
DECLARE
    v_sent timestamptz[];
    v_now timestamptz;
    v_slot timestamptz;
    v_result double precision[] := '{}';
    n integer;
BEGIN
    INSERT INTO agency_rate (agency) VALUES (p_agency) ON CONFLICT (agency) DO NOTHING;
    SELECT r.sent INTO v_sent FROM agency_rate r WHERE r.agency = p_agency FOR UPDATE;
    v_now := clock_timestamp();  -- after the lock: slots are never handed out in the past
    FOR i IN 1 .. p_wanted LOOP
        n := coalesce(array_length(v_sent, 1), 0);
        v_slot := v_now;
        IF n > 0 THEN
            v_slot := greatest(v_slot, v_sent[n]);
        END IF;
        IF n >= p_count THEN
            v_slot := greatest(v_slot, v_sent[n - p_count + 1]
                                       + make_interval(secs => p_window + p_tolerance));
        END IF;
        v_sent := array_append(v_sent, v_slot);
        v_result := array_append(v_result, extract(epoch FROM v_slot - v_now)::double precision);
    END LOOP;
    n := array_length(v_sent, 1);
    IF n > p_count THEN
        v_sent := v_sent[n - p_count + 1 : n];
    END IF;
    UPDATE agency_rate SET sent = v_sent WHERE agency = p_agency;
    RETURN v_result;
END $$;

-- Each replica's share of an agency's in-flight limit. A replica may have at most `held`
-- requests in flight; the sum of `held` over live rows never exceeds the limit. Rows expire,
-- so a dead replica's permits come back after its lease runs out.
CREATE TABLE agency_permits (
    agency      text NOT NULL,
    owner       text NOT NULL,
    held        integer NOT NULL CHECK (held >= 0),
    wanted      integer NOT NULL CHECK (wanted >= 0),
    in_use      integer NOT NULL CHECK (in_use >= 0),
    expires_at  timestamptz NOT NULL,
    PRIMARY KEY (agency, owner)
);

-- One round trip per sync: a replica keeps `p_keep` permits (never fewer than it has in use;
-- it stops using the rest before calling), says how many it wants, and is granted more up to
-- its fair share of the limit (equal shares among replicas that want any, what one does not
-- need going to the others). The advisory lock serialises syncs of one agency; each statement
-- below sees the rows committed before it (READ COMMITTED, a new snapshot per statement).
CREATE FUNCTION agency_permits_sync(
    p_agency text, p_owner text, p_limit integer, p_keep integer, p_wanted integer,
    p_in_use integer, p_ttl double precision
) RETURNS TABLE (held integer, target integer, in_flight integer, starved integer)
LANGUAGE plpgsql
AS $$
DECLARE
    others_held integer;
    others_in_use integer;
    others_active integer;
    others_starved integer;
    others_need integer;
    share integer;
    v_target integer;
    v_held integer;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('agency_permits'), hashtext(p_agency));
    DELETE FROM agency_permits p WHERE p.agency = p_agency AND p.expires_at < clock_timestamp();
    SELECT coalesce(sum(p.held), 0), coalesce(sum(p.in_use), 0),
           count(*) FILTER (WHERE p.wanted > 0), count(*) FILTER (WHERE p.wanted > p.held)
    INTO others_held, others_in_use, others_active, others_starved
    FROM agency_permits p WHERE p.agency = p_agency AND p.owner <> p_owner;
    share := ceil(p_limit::numeric / greatest(1, others_active + (p_wanted > 0)::integer));
    SELECT coalesce(sum(least(p.wanted, share)), 0) INTO others_need
    FROM agency_permits p WHERE p.agency = p_agency AND p.owner <> p_owner;
    v_target := least(p_wanted, greatest(share, p_limit - others_need));
    IF others_starved = 0 THEN
        -- Nobody is waiting for permits: keep what we have, so a bursty agency does not
        -- give permits back between bursts only to ask for them again.
        v_target := greatest(v_target, least(p_keep, p_limit));
    END IF;
    v_held := p_keep + greatest(0, least(v_target - p_keep, p_limit - others_held - p_keep));
    IF v_held = 0 AND p_wanted = 0 AND p_in_use = 0 THEN
        DELETE FROM agency_permits p WHERE p.agency = p_agency AND p.owner = p_owner;
    ELSE
        INSERT INTO agency_permits AS p (agency, owner, held, wanted, in_use, expires_at)
        VALUES (p_agency, p_owner, v_held, p_wanted, p_in_use,
                clock_timestamp() + make_interval(secs => p_ttl))
        ON CONFLICT (agency, owner) DO UPDATE
        SET held = excluded.held, wanted = excluded.wanted, in_use = excluded.in_use,
            expires_at = excluded.expires_at;
    END IF;
    RETURN QUERY SELECT v_held, v_target, others_in_use + p_in_use, others_starved;
END $$;

-- When an inquiry that failed "agency unavailable" was queued again (POST
-- /v1/batches/{id}/rerun-unavailable): its wait on the agency starts afresh then.
ALTER TABLE inquiries ADD COLUMN rerun_at timestamptz;
