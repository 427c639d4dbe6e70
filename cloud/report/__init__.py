"""The monthly service report: the service standards' indicators with their targets, work
orders by kind and priority, SLA compliance, top recurring faults and problem equipment, and
PM done against due, as HTML with inline SVG charts (PDF when a PDF engine is installed), in
English or Simplified Chinese (`templates/monthly.html`, its texts in the catalog of
`cloud.locale`).

Its indicator figures come from `cloud.kpi.compute` for the month, the same function behind
`GET /api/kpis`, so the two always agree.
"""
