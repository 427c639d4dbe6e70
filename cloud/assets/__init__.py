"""The asset register: equipment without a connection (tanks, generators, fans, doors,
extinguishers…) registered by hand or from a CSV file, and the register's fields (make,
model, serial, dates, supplier, documents) on every piece of equipment, connected or not.

The rule between the register and the site inventory: equipment the inventory lists is owned
by the inventory (its kind, building, floor, zone and name change only there); the register
owns its register-only assets whole, and the register fields of every piece of equipment.
"""
