"""Import every module of the generated package, and check that no endpoint
would send a form body. Usage: python import_all.py PACKAGE (on sys.path).

Importing everything catches generator output that is broken for some spec
shapes (e.g. `NameError: name 'Unset' is not defined`) in endpoints the flow
never calls. The form check catches a requestBody that offers
application/x-www-form-urlencoded: the generated code would then pick the form
encoding, which cannot carry lists such as `projectpermissions`.
"""

import importlib
import inspect
import pkgutil
import sys

pkg = importlib.import_module(sys.argv[1])
failed, modules, endpoints = [], 0, 0
for info in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + "."):
    modules += 1
    endpoints += ".api." in info.name and not info.ispkg
    try:
        module = importlib.import_module(info.name)
    except Exception as e:  # any import error is a finding, report them all
        failed.append(f"{info.name}: import fails: {type(e).__name__}: {e}")
        continue
    if hasattr(module, "_get_kwargs") and '_kwargs["data"]' in inspect.getsource(module._get_kwargs):
        failed.append(f"{info.name}: sends a form body, not JSON (requestBody offers x-www-form-urlencoded)")

for line in failed:
    print(line)
print(f"generated client: {modules} modules ({endpoints} endpoints), {len(failed)} problems")
sys.exit(1 if failed else 0)
