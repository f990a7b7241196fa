from setuptools import find_packages, setup

with open("requirements.txt") as f:
    requirements = [line.strip() for line in f if line.strip() and not line.startswith("#")]

setup(
    name="hrm-act",
    version="0.1.0",
    description="Hierarchical Reasoning Model with Adaptive Computation Time for Sudoku, a faithful PyTorch port",
    packages=find_packages(include=["src", "src.*"]),
    package_data={"src.hrm.demo": ["static/*"]},  # the demo page's HTML, CSS and JS
    python_requires=">=3.10",
    install_requires=requirements,
)
