import { redirect } from "next/navigation";

// Signed-out visitors never get here: the middleware sends them to /sign-in first.
export default function Home(): never {
  redirect("/tasks");
}
