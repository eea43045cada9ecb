def main() -> None:
    print("regie")
