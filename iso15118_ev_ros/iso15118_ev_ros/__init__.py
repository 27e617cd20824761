"""The vehicle side of ISO 15118 / DIN 70121 charging communication as a ROS 2 node."""
