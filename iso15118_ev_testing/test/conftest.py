"""Tests of the charger simulator itself. Its network tests use their own link names (set
before the shared fixtures are loaded), so they can run beside the other packages' tests."""
import os

os.environ.setdefault('TEST_EV_IFACE', 'simt0')
os.environ.setdefault('TEST_SECC_NETNS', 'charger_sim_test')

pytest_plugins = ['iso15118_ev_testing.fixtures']
