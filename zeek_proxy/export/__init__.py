"""The same detection, written for other engines: Sigma (SIEM), a Zeek policy script
(the live sensor) and Suricata rules (NIDS), all from one effective config, so that the
offline scan, the sensor and the SIEM agree."""
