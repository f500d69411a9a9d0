"""The CRMs' REST APIs, called for enrichment (read the record behind an ID-only webhook) and
write-back (a comment and fields on the record). One client per vendor behind `CrmApi`."""
