from st2common.runners.base_action import Action


class CheckVersion(Action):
    def run(self, version, last):
        parts = version.split(".")
        if len(parts) != 3 or not all(p.isdigit() for p in parts):
            return False, f"{version!r} is not MAJOR.MINOR.PATCH"
        if tuple(map(int, parts)) <= tuple(map(int, last.split("."))):
            return False, f"{version} is not newer than {last}"
        return {
            "version": version,
            "tag": f"v{version}",
            "url": f"{self.config['registry']}/demo/{version}",
        }
