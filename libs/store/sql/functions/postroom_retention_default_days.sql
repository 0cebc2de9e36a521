-- The system setting `retention_days` (docs/privacy.md "Retention"): days decided mail keeps its
-- raw bytes and bodies on a connector that sets none; 0 (or unset) keeps it for ever. Config
-- validates it (0-36500); anything else stored by hand counts as unset.
CREATE OR REPLACE FUNCTION postroom_retention_default_days()
RETURNS integer LANGUAGE sql STABLE AS $$
  SELECT coalesce((SELECT (s.spec ->> 'value')::integer FROM settings s
                    WHERE s.key = 'retention_days' AND s.spec ->> 'value' ~ '^[0-9]{1,5}$'), 0)
$$;
