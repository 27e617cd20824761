"""The EVCC core: session control, EV model, PLC link and codec. Imports no ROS."""
