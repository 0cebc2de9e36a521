-- How many days connector `c` keeps the raw bytes and bodies of its decided mail
-- (docs/privacy.md "Retention"): its own `retention_days` (config validates 1-36500), else the
-- system setting (postroom_retention_default_days); 0: kept for ever. PL/pgSQL because that
-- function's file is applied after this one (name order).
CREATE OR REPLACE FUNCTION postroom_retention_days(c connectors)
RETURNS integer LANGUAGE plpgsql STABLE AS $$
BEGIN
  IF c.spec ->> 'retention_days' ~ '^[0-9]{1,5}$' AND (c.spec ->> 'retention_days')::integer > 0
  THEN
    RETURN (c.spec ->> 'retention_days')::integer;
  END IF;
  RETURN postroom_retention_default_days();
END $$;
