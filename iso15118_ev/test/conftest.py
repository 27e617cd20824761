"""The library's tests need no ROS. The shared link / charger fixtures come from the testing
package (they start the charger simulator, a test peer with its own dependencies)."""
import sys
from pathlib import Path

pytest_plugins = ['iso15118_ev_testing.fixtures', 'iso15118_ev_testing.slac_fixtures']

sys.path.insert(0, str(Path(__file__).parent))
